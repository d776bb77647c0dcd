import { TableKeys } from '../contract';
import { LambdaSimulator } from './lambda-simulator';
import { type LocalAws, ManualClock } from './local-aws';

export interface FleetOptions {
  /** Pipelines failing at once (within `spreadSeconds`). */
  readonly pipelines: number;
  /** The product's budget: codePipelineRequestsPerSecond. */
  readonly budget: number;
  /** The account's own CodePipeline limit (a token bucket in the emulator); none when undefined. */
  readonly accountLimit?: number;
  /** The function's reserved concurrency: at most this many invocations at once. @default 10 */
  readonly instances?: number;
  /** The delay queue's event source: batches in flight at once. @default 5 */
  readonly queueConcurrency?: number;
  /** The failures happen evenly within this many seconds (0: all at once). @default 2 */
  readonly spreadSeconds?: number;
}

export interface FleetFigures {
  readonly pipelines: number;
  readonly budget: number;
  readonly accountLimit: number | undefined;
  readonly retries: number;
  readonly retriedTwice: number;
  readonly throttledAnswers: number;
  readonly codePipelineCalls: number;
  /** Simulated seconds from the first failure to the last accepted retry. */
  readonly secondsToLastRetry: number;
  /**
   * The floor: the CodePipeline calls the failures need, at the lower of the budget and the
   * account's limit (or, if later, the last failure's arrival and its own calls at that rate).
   */
  readonly floorSeconds: number;
  /** PutItem requests (the shared rate's reservations: no budget policy in these runs) per failure. */
  readonly rateWritesPerFailure: number;
  /** The most CodePipeline calls in any one second (a sliding window over the calls' times). */
  readonly maxCallsPerSecond: number;
  /**
   * Calls beyond the budget as AWS counts a rate: a token bucket of the budget per second with one
   * second's worth of burst. 0 means the deployment never spent more than its budget.
   */
  readonly overBudget: number;
  readonly lost: number;
  readonly deadLettered: number;
  /** Delay-queue messages never processed. */
  readonly stuckMessages: number;
  readonly invocations: number;
  /** Invocations that threw (Lambda would retry them): none should, for throttling. */
  readonly faults: number;
  /** Delay-queue messages sent (work that waited there). */
  readonly deferred: number;
}

/** CodePipeline calls a first failure needs: its state, its pipeline's structure, the retry. */
const CALLS_PER_FAILURE = 3;

/**
 * A fleet-wide failure: `pipelines` pipelines fail within `spreadSeconds` (2 s); the product may spend `budget`
 * CodePipeline requests per second, shared by all its instances, and the account may have a
 * limit of its own. Lambda's delivery is simulated with the deployment's own limits: at most
 * `instances` invocations at once (reserved concurrency), its two retries of a failed event, and
 * the delay queue drained `queueConcurrency` batches at a time. Time is simulated (waits inside an
 * invocation too), so the seconds are the design's, not this machine's.
 */
export async function measureFleet(aws: LocalAws, options: FleetOptions): Promise<FleetFigures> {
  const saved = process.env.CODEPIPELINE_REQUESTS_PER_SECOND;
  process.env.CODEPIPELINE_REQUESTS_PER_SECOND = String(options.budget);
  const instances = options.instances ?? 10;
  try {
    aws.codepipeline.reset();
    aws.sqs.reset();
    // A fleet of its own: no reservation left from an earlier run (their clocks differ).
    await aws.table().delete(TableKeys.rate('home'));
    const clock = new ManualClock(Date.now());
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const lambda = new LambdaSimulator(aws, clock, { instances, deps: { random } });
    if (options.accountLimit) aws.codepipeline.setRateLimit({ perSecond: options.accountLimit, burst: options.accountLimit });
    const pipelines = Array.from({ length: options.pipelines }, () => aws.pipeline('fleet'));
    const events = pipelines.map((p) => {
      aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
      return aws.codepipeline.stageFailedEvent(p, 'Test', clock.now());
    });
    const started = clock.current;
    const putsBefore = aws.dynamo.requests.get('PutItem') ?? 0;
    const result = await lambda.run(events, {
      concurrency: instances,
      spreadSeconds: options.spreadSeconds ?? 2,
      queueConcurrency: options.queueConcurrency ?? 5,
    });
    aws.codepipeline.setRateLimit(undefined);
    const accepted = aws.codepipeline.acceptedRetries();
    const perPipeline = pipelines.map((p) => accepted.filter((c) => c.input.pipelineName === p).length);
    const rate = Math.min(options.budget, options.accountLimit ?? Number.POSITIVE_INFINITY);
    return {
      pipelines: options.pipelines,
      budget: options.budget,
      accountLimit: options.accountLimit,
      retries: accepted.length,
      retriedTwice: perPipeline.filter((n) => n > 1).length,
      throttledAnswers: aws.codepipeline.throttled,
      codePipelineCalls: aws.codepipeline.calls.length,
      secondsToLastRetry: (Math.max(...accepted.map((c) => c.at)) - started) / 1000,
      floorSeconds: Math.max(
        (options.pipelines * CALLS_PER_FAILURE) / rate,
        ((options.spreadSeconds ?? 2) * (options.pipelines - 1)) / options.pipelines + CALLS_PER_FAILURE / rate,
      ),
      rateWritesPerFailure: ((aws.dynamo.requests.get('PutItem') ?? 0) - putsBefore) / options.pipelines,
      maxCallsPerSecond: maxInAnySecond(aws.codepipeline.calls.map((c) => c.at)),
      overBudget: beyondBucket(
        aws.codepipeline.calls.map((c) => c.at),
        options.budget,
      ),
      lost: result.lost.length + perPipeline.filter((n) => n === 0).length,
      stuckMessages: result.stuckMessages,
      deadLettered: result.deadLettered,
      invocations: result.invocations,
      faults: result.faults,
      deferred: aws.sqs.sent.length,
    };
  } finally {
    process.env.CODEPIPELINE_REQUESTS_PER_SECOND = saved;
  }
}

/** How many of the calls (epoch ms) a token bucket of `rate` per second, with `rate` of burst, would have refused. */
export function beyondBucket(times: readonly number[], rate: number): number {
  let tokens = rate;
  let at = Math.min(...times);
  let refused = 0;
  for (const t of [...times].sort((a, b) => a - b)) {
    tokens = Math.min(rate, tokens + ((t - at) / 1000) * rate);
    at = t;
    if (tokens >= 1) tokens -= 1;
    else refused += 1;
  }
  return refused;
}

/** The most timestamps (epoch ms) that fall within any one second. */
export function maxInAnySecond(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to++) {
    while ((sorted[to] as number) - (sorted[from] as number) >= 1000) from += 1;
    most = Math.max(most, to - from + 1);
  }
  return most;
}
