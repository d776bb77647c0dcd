import { measureFleet } from '../../local/fleet';
import { HEAVY_TEST_TIMEOUT_MS, useLocalAws } from '../support';

/**
 * A fleet-wide failure: a shared dependency breaks and hundreds of pipelines fail within seconds.
 * The deployment's own limits are simulated — its reserved concurrency (10 instances), Lambda's
 * two retries of a failed event, the delay queue's event source at 5 batches at once — and the
 * product may spend 20 CodePipeline requests per second in all. Time is simulated, waits inside an
 * invocation too. (`npm run bench` reports the same runs' figures.)
 */
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0 });

describe('Reliability: a fleet-wide failure spends the deployment’s request rate, and no more', () => {
  it.each([
    ['an account that also allows only 20 requests/s', 20],
    ['an account with no limit of its own', undefined],
    ['an account that allows only 12 requests/s (others spend the rest)', 12],
  ])(
    'retries 300 pipelines failing within 2 s exactly once each, within twice the floor, against %s',
    async (_case, accountLimit) => {
      // Act
      const fleet = await measureFleet(aws, { pipelines: 300, budget: 20, ...(accountLimit ? { accountLimit } : {}) });

      // Assess: exactly once, nothing lost or dead-lettered.
      expect(fleet.retries).toBe(300);
      expect(fleet.retriedTwice).toBe(0);
      expect(fleet.lost).toBe(0);
      expect(fleet.deadLettered).toBe(0);
      expect(fleet.stuckMessages).toBe(0);
      // Throttling (ours or CodePipeline's) never makes an invocation throw.
      expect(fleet.faults).toBe(0);
      // Drained at the rate: within twice the floor (300 × 3 calls at 20/s is 45 s; at 12/s, 75 s), never above the budget.
      expect(fleet.floorSeconds).toBe((300 * 3) / Math.min(20, accountLimit ?? 20));
      expect(fleet.secondsToLastRetry).toBeLessThanOrEqual(2 * fleet.floorSeconds);
      expect(fleet.overBudget).toBe(0);
      // Lean: at most 4 CodePipeline calls a failure, re-reads included.
      expect(fleet.codePipelineCalls / fleet.pipelines).toBeLessThanOrEqual(4);
    },
    HEAVY_TEST_TIMEOUT_MS,
  );
});

describe('Reliability: a warm instance with the account’s headroom spends it inline', () => {
  it('never defers a lone failure: three failures a second apart on one instance, none through the delay queue', async () => {
    // Act: the default budget (10 requests/s); one instance.
    const fleet = await measureFleet(aws, { pipelines: 3, budget: 10, instances: 1, spreadSeconds: 3 });

    // Assess: each retried in its own invocation, at once (the last failure comes at 2 s).
    expect(fleet.retries).toBe(3);
    expect(fleet.deferred).toBe(0);
    expect(fleet.invocations).toBe(3);
    expect(fleet.secondsToLastRetry).toBeLessThan(3);
    // Each at the floor: its arrival and its own three calls at 10/s, no more.
    expect(fleet.secondsToLastRetry).toBeLessThanOrEqual(fleet.floorSeconds + 0.05);
  });

  it('paces a short burst on one instance inline: ten failures at once, none deferred, at the budget', async () => {
    // Act: 30 CodePipeline calls at 10 requests/s, one invocation after the other.
    const fleet = await measureFleet(aws, { pipelines: 10, budget: 10, instances: 1, spreadSeconds: 0 });

    // Assess
    expect(fleet.retries).toBe(10);
    expect(fleet.deferred).toBe(0);
    expect(fleet.invocations).toBe(10);
    expect(fleet.floorSeconds).toBe(3);
    expect(fleet.secondsToLastRetry).toBeLessThanOrEqual(2 * fleet.floorSeconds);
    expect(fleet.overBudget).toBe(0);
  });
});
