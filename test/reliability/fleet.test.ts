import { measureFleet } from '../../local/fleet';
import { HEAVY_TEST_TIMEOUT_MS, useLocalAws } from '../support';

/**
 * A fleet-wide failure: a shared dependency breaks and hundreds of pipelines fail within seconds,
 * against an account whose CodePipeline quota is shared and limited. Lambda's asynchronous
 * delivery is simulated with its two retries, after which an event would be lost to the
 * failed-invocation queue. (`npm run bench` reports the same run's figures.)
 */
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0 });

describe('Reliability: a fleet-wide failure under an account-wide request limit', () => {
  it(
    'retries 300 pipelines failing within 2 s against 20 requests/s exactly once each, losing none',
    async () => {
      // Act
      const fleet = await measureFleet(aws, 300, 20);

      // Assess
      expect(fleet.retries).toBe(300);
      expect(fleet.retriedTwice).toBe(0);
      expect(fleet.lost).toBe(0);
      expect(fleet.deadLettered).toBe(0);
      expect(fleet.stuckMessages).toBe(0);
      // Not vacuous: the limit was hit, and the work waited instead of failing.
      expect(fleet.throttledAnswers).toBeGreaterThan(0);
      // Within the quota the last retry cannot come before (3 calls a failure / rate), and does not starve.
      expect(fleet.secondsToLastRetry).toBeGreaterThan((300 * 3) / 20);
      expect(fleet.secondsToLastRetry).toBeLessThan(30 * 60);
    },
    HEAVY_TEST_TIMEOUT_MS,
  );
});
