import { LambdaSimulator } from '../../local/lambda-simulator';
import { ManualClock } from '../../local/local-aws';
import { TcpProxy } from '../../local/tcp-proxy';
import { HEAVY_TEST_TIMEOUT_MS, scheduledEvent, useLocalAws } from '../support';

/**
 * Reliability under load and faults, through the real handler, SDK clients, dynalite and the
 * emulators, with Lambda's delivery behaviour simulated (warm instances, concurrent delivery,
 * redelivery of failed invocations, the delay queue drained in batches).
 */
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0 });

beforeEach(() => {
  aws.sqs.reset();
  aws.codepipeline.chaos = undefined;
  // Real time until a test's simulator sets its own clock: none left behind by an earlier test.
  aws.codepipeline.now = () => Date.now();
  aws.sqs.now = () => Date.now();
});

/** A seeded generator (mulberry32), so every run injects the same faults. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** `count` pipelines whose Test stage just failed, and the event of each failure. */
function failures(count: number, prefix: string): { pipelines: string[]; events: Record<string, unknown>[] } {
  const pipelines = Array.from({ length: count }, () => aws.pipeline(prefix));
  const events = pipelines.map((p) => {
    aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
    return aws.codepipeline.stageFailedEvent(p, 'Test');
  });
  return { pipelines, events };
}

function retriesPerPipeline(pipelines: readonly string[]): number[] {
  const accepted = aws.codepipeline.acceptedRetries();
  const counts = new Map(pipelines.map((p) => [p, 0]));
  for (const call of accepted) {
    const name = String(call.input.pipelineName);
    if (counts.has(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts.values()];
}

describe('Reliability: storms, fleets and faults', () => {
  it(
    'makes exactly 200 retries for 200 failures each delivered 5 times concurrently',
    async () => {
      // Prepare
      const { pipelines, events } = failures(200, 'storm');
      const deliveries = shuffle(
        events.flatMap((e) => Array.from({ length: 5 }, () => e)),
        seeded(7),
      );
      const lambda = new LambdaSimulator(aws, new ManualClock(Date.now()), { instances: 20 });

      // Act
      const result = await lambda.run(deliveries, { concurrency: 50 });

      // Assess
      expect(retriesPerPipeline(pipelines)).toEqual(pipelines.map(() => 1));
      expect(result.lost).toEqual([]);
      expect(result.stuckMessages).toBe(0);
    },
    HEAVY_TEST_TIMEOUT_MS,
  );

  it(
    'retries each of 1,000 pipelines failing at once exactly once, losing none',
    async () => {
      // Prepare
      const { pipelines, events } = failures(1000, 'fleet');
      const lambda = new LambdaSimulator(aws, new ManualClock(Date.now()), { instances: 32 });

      // Act
      const result = await lambda.run(events, { concurrency: 64 });

      // Assess
      expect(retriesPerPipeline(pipelines)).toEqual(pipelines.map(() => 1));
      expect(result.lost).toEqual([]);
      expect(aws.sqs.deadLettered).toEqual([]);
    },
    HEAVY_TEST_TIMEOUT_MS,
  );

  it(
    'stays exactly-once with throttling, 5xx errors and latency injected on every CodePipeline operation',
    async () => {
      // Prepare
      const { pipelines, events } = failures(100, 'chaos');
      aws.codepipeline.chaos = {
        rate: 0.3,
        random: seeded(42),
        faults: [{ kind: 'throttle' }, { kind: 'server-error' }, { kind: 'latency', ms: 30 }],
      };
      const lambda = new LambdaSimulator(aws, new ManualClock(Date.now()), { instances: 16 });

      // Act: each failure delivered twice, to add duplicates to the faults.
      const result = await lambda.run([...events, ...events], { concurrency: 32 });
      aws.codepipeline.chaos = undefined;

      // Assess
      expect(retriesPerPipeline(pipelines)).toEqual(pipelines.map(() => 1));
      expect(result.lost).toEqual([]);
      expect(result.faults).toBeGreaterThan(0); // the faults did reach the handler
    },
    HEAVY_TEST_TIMEOUT_MS,
  );

  it('throws events back while DynamoDB is away, and retries each failure exactly once after it returns', async () => {
    // Prepare: the handlers reach DynamoDB through a proxy that can be cut.
    const proxy = new TcpProxy(aws.dynamo.port);
    await proxy.start();
    const direct = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.endpoint;
    // The simulator first: it points the emulators at this test's clock, so the failures are
    // stamped by it (not by the clock an earlier test left behind, minutes ahead).
    const clock = new ManualClock(Date.now());
    const lambda = new LambdaSimulator(aws, clock, { instances: 8 });
    const { pipelines, events } = failures(60, 'ddb-away');
    let result: Awaited<ReturnType<LambdaSimulator['run']>>;
    let reconciled: Awaited<ReturnType<LambdaSimulator['run']>>;
    try {
      // Act: DynamoDB goes away after the first 40 requests, in the middle of the deliveries,
      // and comes back before Lambda's first retry of the events that failed meanwhile.
      proxy.downAfter(40);
      result = await lambda.run(events, {
        concurrency: 16,
        beforeRetryRound: async () => {
          await proxy.wentDown;
          await proxy.up();
        },
      });
      // The scheduled rule's run, as production makes it every 5 minutes: it wakes any claim whose
      // delay message the outage used up (moved to the DLQ), the product's way forward for it.
      clock.advance(300);
      reconciled = await lambda.run([scheduledEvent(clock.now())]);
    } finally {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = direct;
      await proxy.stop();
    }

    // Assess
    expect(result.faults).toBeGreaterThan(0);
    expect(result.lost).toEqual([]);
    expect(reconciled.lost).toEqual([]);
    expect(retriesPerPipeline(pipelines)).toEqual(pipelines.map(() => 1));
    const records = await Promise.all(pipelines.map(async (p) => (await aws.ledger().listRecords(p))[0]));
    expect(records.map((r) => r?.retries)).toEqual(pipelines.map(() => 1));
  });
});
