import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { LogCapture, ManualClock } from '../../local/local-aws';
import type { PolicyPatch } from '../../policy/policy';
import { useLocalAws } from '../support';
import { enoughRuns, propertyParameters, propertyTestTimeout } from '../support/properties';

/**
 * Property: whatever the interleaving of duplicate, concurrent, delayed and out-of-order
 * failure events, the real handler never retries a stage execution more than maxRetries times,
 * never spends more than the pipeline's budget in any window, and never retries a failure that
 * a neverRetryOn rule filters out.
 */
const aws = useLocalAws();

type Step =
  | { kind: 'new-execution'; fatal: boolean }
  | { kind: 'retry-fails'; fatal: boolean }
  | { kind: 'retry-succeeds' }
  | { kind: 'deliver'; event: number; copies: number }
  | { kind: 'advance'; seconds: number }
  | { kind: 'drain-queue' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('new-execution' as const), fatal: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('retry-fails' as const), fatal: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry-succeeds' as const) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('deliver' as const), event: fc.nat(), copies: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 2400 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('drain-queue' as const) }) },
);

const scenario = fc.record({
  maxRetries: fc.constantFrom(0, 1, 2, 2, 3, 3),
  cooldownSeconds: fc.constantFrom(0, 0, 0, 30, 900),
  budget: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  // Every run starts with a failure and its event; the rest is arbitrary.
  steps: fc
    .array(step, { minLength: 1, maxLength: 30 })
    .map((rest): Step[] => [{ kind: 'new-execution', fatal: false }, { kind: 'deliver', event: 0, copies: 2 }, ...rest]),
});

const WINDOW = 3600;
const RUNS = 100;

describe('Property: retry limits hold under any interleaving of events', () => {
  it(
    'never exceeds maxRetries per stage execution or the budget per window, and never retries a filtered-out failure',
    async () => {
      let runs = 0;
      let retriesSeen = 0;
      let duplicatesDelivered = 0;
      await fc.assert(
        fc.asyncProperty(scenario, async ({ maxRetries, cooldownSeconds, budget, steps }) => {
          // Prepare
          runs += 1;
          const pipeline = aws.pipeline('prop');
          const policy: PolicyPatch = {
            maxRetries,
            cooldownSeconds,
            neverRetryOn: [{ message: 'fatal' }],
            ...(budget ? { budget: { maxRetries: budget, windowSeconds: WINDOW } } : {}),
          };
          await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, policy, 'property', new Date());
          const clock = new ManualClock(Date.now());
          aws.sqs.reset();
          aws.sqs.now = () => clock.current;
          aws.codepipeline.now = () => clock.current;
          const cp = aws.codepipeline;
          const events: Record<string, unknown>[] = [];
          const instance = () => aws.handler({ sink: new LogCapture().sink, clock: clock.now, newToken: randomUUID });
          const swallow = async (work: Promise<unknown>) => work.catch(() => undefined); // a throw means Lambda would retry later

          // Act
          for (const s of steps) {
            const status = cp.hasPipeline(pipeline) ? cp.stageStatus(pipeline, 'Test').status : undefined;
            const message = (fatal: boolean) => ({ code: 'JobFailed', message: fatal ? 'fatal: disk full' : 'timed out' });
            if (s.kind === 'new-execution') {
              cp.failNewExecution(pipeline, 'Test', ['UnitTests'], message(s.fatal));
              events.push(cp.stageFailedEvent(pipeline, 'Test'));
            } else if (s.kind === 'retry-fails' && status === 'InProgress') {
              cp.finishRetry(pipeline, 'Test', 'Failed', message(s.fatal));
              events.push(cp.stageFailedEvent(pipeline, 'Test'));
            } else if (s.kind === 'retry-succeeds' && status === 'InProgress') {
              cp.finishRetry(pipeline, 'Test', 'Succeeded');
            } else if (s.kind === 'deliver' && events.length > 0) {
              const event = events[s.event % events.length];
              duplicatesDelivered += s.copies - 1;
              await Promise.all(Array.from({ length: s.copies }, () => swallow(instance()(structuredClone(event)))));
            } else if (s.kind === 'advance') {
              clock.advance(s.seconds);
            } else if (s.kind === 'drain-queue') {
              const batch = aws.sqs.takeVisible();
              if (batch) await swallow(instance()(batch));
            }
          }

          // Assess
          const retries = cp.acceptedRetries(pipeline);
          retriesSeen += retries.length;
          const perExecution = new Map<string, number>();
          for (const r of retries)
            perExecution.set(String(r.input.pipelineExecutionId), (perExecution.get(String(r.input.pipelineExecutionId)) ?? 0) + 1);
          for (const count of perExecution.values()) expect(count).toBeLessThanOrEqual(maxRetries);
          if (budget) {
            for (const r of retries) {
              const inWindow = retries.filter((o) => o.at > r.at - WINDOW * 1000 && o.at <= r.at).length;
              expect(inWindow).toBeLessThanOrEqual(budget);
            }
          }
          for (const r of retries) expect(r.retriedFailures?.some((m) => m.includes('fatal'))).toBe(false);
        }),
        propertyParameters({ numRuns: RUNS, seed: 20261125 }),
      );
      // The property is not vacuous: enough runs were made within the time budget, and they did
      // retry and did deliver duplicates.
      expect(runs).toBeGreaterThanOrEqual(enoughRuns(RUNS));
      expect(retriesSeen).toBeGreaterThan(runs * 0.2);
      expect(duplicatesDelivered).toBeGreaterThan(runs * 0.5);
    },
    propertyTestTimeout(),
  );
});
