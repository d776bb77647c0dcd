/** @fileLimitSeconds 420 */
import { OPEN_CLAIMS_INDEX, TableKeys } from '../../contract';
import { isOpen } from '../../lambda/domain/ledger';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { ManualClock } from '../../local/local-aws';
import { ProcessLambda, SandboxKilledError } from '../../local/process-lambda';
import { HEAVY_TEST_TIMEOUT_MS, scheduledEvent, useLocalAws } from '../support';

/**
 * Chaos on our own side: 500 pipelines fail at once; the function runs in sandboxes that are
 * child processes, killed (SIGKILL) at random between two of their AWS calls, and the answers to
 * random DynamoDB writes (and SQS sends) are lost after the write took effect, so the SDK resends
 * them. Lambda's delivery is simulated (its two retries of an event, the delay queue's redelivery
 * and DLQ); then the reconciler runs until nothing is left open. Every stage must be retried
 * exactly once, nothing may be left non-terminal, and the counters and budgets must add up.
 */
const WINDOW = 3600;
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0, budget: { maxRetries: 100, windowSeconds: WINDOW } });

/** A seeded generator (mulberry32), so every run draws the same faults in the same order. */
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

const FAILURES = 500;
const WRITES = new Set(['UpdateItem', 'PutItem', 'DeleteItem', 'SendMessage']);

describe('Reliability: chaos in our own writes and processes', () => {
  it(
    'retries each of 500 failures exactly once through random lost answers and killed sandboxes, and leaves no claim open',
    async () => {
      // Prepare
      const clock = new ManualClock(Date.now());
      const sandboxes = new ProcessLambda(aws, clock, { sandboxes: 8, kills: { rate: 0.08, random: seeded(11) } });
      await sandboxes.start();
      sandboxes.chaos = {
        rate: 0.05,
        random: seeded(23),
        faults: ['apply-then-500', 'apply-then-reset'],
        match: (call) => WRITES.has(call.operation),
      };
      const lambda = new LambdaSimulator(aws, clock, { invoke: (input) => sandboxes.invoke(input) });
      const pipelines = Array.from({ length: FAILURES }, () => aws.pipeline('chaos'));
      const events = pipelines.map((p) => {
        aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
        return aws.codepipeline.stageFailedEvent(p, 'Test', clock.now());
      });
      let lost = 0;
      let reconcilerRuns = 0;
      let notRetried = 0;
      try {
        // Act: the fleet-wide failure, then the reconciler every 5 minutes until no claim is open.
        // An event whose sandbox died after one of its ledger writes took effect is not retried by
        // Lambda (which promises no redelivery): only the ledger's own ways forward can move it on.
        const noRetry = (error: unknown) => error instanceof SandboxKilledError && error.afterLedgerWrite;
        const first = await lambda.run(events, { concurrency: 16, spreadSeconds: 2, noRetry });
        lost += first.lost.length;
        notRetried = first.notRetried.length;
        for (; reconcilerRuns < 12 && (await openRecords()).length > 0; reconcilerRuns++) {
          clock.advance(300);
          // A killed reconciler run is made up by the next one.
          await sandboxes.invoke(scheduledEvent(clock.now())).catch(() => undefined);
          const settled = await lambda.run([]);
          lost += settled.lost.length;
        }
      } finally {
        await sandboxes.stop();
      }

      // Assess: the faults happened, and for real.
      expect(sandboxes.kills).toBeGreaterThan(10);
      expect(notRetried).toBeGreaterThan(0);
      expect(sandboxes.lostAnswers()).toBeGreaterThan(50);
      // Exactly once each: none doubled, none lost.
      const accepted = aws.codepipeline.acceptedRetries();
      const perPipeline = new Map(pipelines.map((p) => [p, 0]));
      for (const call of accepted) {
        const name = String(call.input.pipelineName);
        if (perPipeline.has(name)) perPipeline.set(name, (perPipeline.get(name) ?? 0) + 1);
      }
      expect([...perPipeline.values()].filter((n) => n > 1)).toEqual([]);
      expect([...perPipeline.entries()].filter(([, n]) => n === 0).map(([p]) => p)).toEqual([]);
      expect(lost).toBe(0);
      expect(aws.sqs.deadLettered).toEqual([]);
      // Nothing left open, nothing left in the index, counters and budgets as the retries made.
      expect(await openRecords()).toEqual([]);
      const records = await Promise.all(pipelines.map(async (p) => (await aws.ledger().listRecords(p))[0]));
      expect(records.map((r) => r?.retries)).toEqual(pipelines.map(() => 1));
      expect(records.flatMap((r) => r?.claims ?? []).filter((c) => isOpen(c))).toEqual([]);
      // Not vacuous: some claims were left for the reconciler, and it moved them on.
      expect(reconcilerRuns).toBeGreaterThan(0);
      expect(records.flatMap((r) => r?.claims ?? []).filter((c) => (c.wakeups ?? 0) > 0).length).toBeGreaterThan(0);
      const table = aws.table();
      const budgets = await Promise.all(pipelines.map((p) => table.get(TableKeys.budget(p))));
      expect(budgets.map((b) => Object.keys((b?.stamps as Record<string, number> | undefined) ?? {}).length)).toEqual(
        pipelines.map(() => 1),
      );
      expect(reconcilerRuns).toBeLessThan(12);
    },
    HEAVY_TEST_TIMEOUT_MS * 2,
  );
});

/** Ledger records the OpenClaims index still holds, whatever their deadline. */
function openRecords() {
  return aws.table().queryIndex(OPEN_CLAIMS_INDEX, OPEN_CLAIMS_INDEX.shard, '9999', 1000);
}
