import { LambdaSimulator } from './lambda-simulator';
import { type LocalAws, ManualClock } from './local-aws';

export interface FleetFigures {
  readonly pipelines: number;
  readonly limitPerSecond: number;
  readonly retries: number;
  readonly retriedTwice: number;
  readonly throttledAnswers: number;
  readonly codePipelineCalls: number;
  /** Simulated seconds from the first failure to the last accepted retry. */
  readonly secondsToLastRetry: number;
  readonly lost: number;
  readonly deadLettered: number;
  /** Delay-queue messages never processed. */
  readonly stuckMessages: number;
  readonly invocations: number;
}

/**
 * A fleet-wide failure: `count` pipelines fail within 2 s against an account-wide limit of
 * `limit` CodePipeline requests/s, which the product is told to spend. Lambda's delivery is
 * simulated with its two retries; time is simulated, so the seconds are the design's, not this machine's.
 */
export async function measureFleet(aws: LocalAws, count: number, limit: number): Promise<FleetFigures> {
  const saved = { rate: process.env.CODEPIPELINE_REQUESTS_PER_SECOND, instances: process.env.MAX_CONCURRENCY };
  process.env.CODEPIPELINE_REQUESTS_PER_SECOND = String(limit);
  process.env.MAX_CONCURRENCY = '16';
  try {
    aws.codepipeline.reset();
    aws.sqs.reset();
    const clock = new ManualClock(Date.now());
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const lambda = new LambdaSimulator(aws, clock, { instances: 16, deps: { random } });
    aws.codepipeline.setRateLimit({ perSecond: limit, burst: limit });
    const pipelines = Array.from({ length: count }, () => aws.pipeline('fleet'));
    const events = pipelines.map((p) => {
      aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
      return aws.codepipeline.stageFailedEvent(p, 'Test', clock.now());
    });
    const started = clock.current;
    const result = await lambda.run(events, { concurrency: 64, spreadSeconds: 2 });
    aws.codepipeline.setRateLimit(undefined);
    const accepted = aws.codepipeline.acceptedRetries();
    const perPipeline = pipelines.map((p) => accepted.filter((c) => c.input.pipelineName === p).length);
    return {
      pipelines: count,
      limitPerSecond: limit,
      retries: accepted.length,
      retriedTwice: perPipeline.filter((n) => n > 1).length,
      throttledAnswers: aws.codepipeline.throttled,
      codePipelineCalls: aws.codepipeline.calls.length,
      secondsToLastRetry: (Math.max(...accepted.map((c) => c.at)) - started) / 1000,
      lost: result.lost.length + perPipeline.filter((n) => n === 0).length,
      stuckMessages: result.stuckMessages,
      deadLettered: result.deadLettered,
      invocations: result.invocations,
    };
  } finally {
    process.env.CODEPIPELINE_REQUESTS_PER_SECOND = saved.rate;
    process.env.MAX_CONCURRENCY = saved.instances;
  }
}
