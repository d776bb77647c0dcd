import { MetricName } from '../../../../contract';
import { ClaimStatus } from '../../../../lambda/domain/ledger';
import { SkipReason } from '../../../../lambda/domain/reasons';
import { NoticeKind } from '../../../../lambda/ports';
import { DEFAULT_SETTINGS } from '../../../../lambda/service/service-settings';
import { FAKE_KEY, FAKE_NOW, serviceWorld } from '../../../support/fakes';

const NOW = FAKE_NOW;
const KEY = FAKE_KEY;

/** The service over fakes, and a claim of the stage execution made at NOW with a lease of `leaseSeconds`. */
function world() {
  const w = serviceWorld();
  const claim = (status: typeof ClaimStatus.Scheduled | typeof ClaimStatus.Retrying, leaseSeconds: number) =>
    w.ledger.claim(KEY, {
      occurrence: 1,
      status,
      retryMode: 'FAILED_ACTIONS',
      dueAt: NOW,
      leaseUntil: new Date(NOW.getTime() + leaseSeconds * 1000),
      token: 'first',
      fingerprint: 'UnitTests:action-1',
      maxRetries: 2,
      failedAt: NOW,
      eventId: 'e-1',
      now: NOW,
    });
  return { ...w, claim };
}

describe('Class: Reconciler', () => {
  describe('Method: run', () => {
    it('passes a claim it woke by until its new deadline, so that every overdue claim gets its turn', async () => {
      // Prepare
      const w = world();
      await w.claim(ClaimStatus.Retrying, 120);
      w.advance(121);
      await w.service.reconcile();

      // Act: the next run, five minutes later, before the woken claim's new deadline.
      w.advance(DEFAULT_SETTINGS.scheduledGraceSeconds - 1);
      const result = await w.service.reconcile();

      // Assess
      expect(result.stuck).toBe(0);
      expect(w.delays.sent).toHaveLength(1);
    });

    it('does nothing, and sends nothing, while every open claim is within its deadline', async () => {
      // Prepare
      const w = world();
      await w.claim(ClaimStatus.Scheduled, 300);

      // Act
      const result = await w.service.reconcile();

      // Assess
      expect(result).toEqual({ records: 0, stuck: 0, woken: 0, gaveUp: 0, cleaned: 0 });
      expect(w.delays.sent).toEqual([]);
    });

    it.each([ClaimStatus.Scheduled, ClaimStatus.Retrying])(
      'wakes a %s claim past its deadline: a fresh token and a delay message due now, counted as stuck',
      async (status) => {
        // Prepare
        const w = world();
        await w.claim(status, 120);
        w.advance(121);

        // Act
        const result = await w.service.reconcile();

        // Assess
        expect(result).toEqual(expect.objectContaining({ stuck: 1, woken: 1, gaveUp: 0 }));
        // Scheduled, due now, with a new deadline; taken from a holder that may have called, it is uncertain.
        const woken = w.ledger.record(KEY).claims.get(1);
        expect(woken).toEqual(
          expect.objectContaining({
            status: ClaimStatus.Scheduled,
            wakeups: 1,
            token: 'token-1',
            uncertain: status === ClaimStatus.Retrying,
            leaseUntil: new Date(NOW.getTime() + (121 + DEFAULT_SETTINGS.scheduledGraceSeconds) * 1000).toISOString(),
          }),
        );
        expect(w.delays.sent).toEqual([
          {
            message: expect.objectContaining({ kind: 'claim', token: 'token-1', dueAt: new Date(NOW.getTime() + 121_000) }),
            delaySeconds: 0,
          },
        ]);
        expect(w.delays.sent[0]?.message.failure).toEqual(
          expect.objectContaining({ ...KEY, occurrence: 1, eventId: 'e-1', failedAt: NOW }),
        );
        expect(w.metrics.counts.map((c) => c.name)).toContain(MetricName.ClaimsStuck);
      },
    );

    it('gives up on a claim it woke too often, keeps its slot when a holder may have called, and tells operators', async () => {
      // Prepare
      const w = world();
      await w.claim(ClaimStatus.Retrying, 120);
      w.advance(121);
      // Each wake-up gives it a new deadline; past each one it is still stuck (its messages are lost).
      for (let i = 0; i < DEFAULT_SETTINGS.maxWakeups; i++) {
        await w.service.reconcile();
        w.advance(DEFAULT_SETTINGS.scheduledGraceSeconds + 1);
      }

      // Act
      const result = await w.service.reconcile();

      // Assess
      expect(result).toEqual(expect.objectContaining({ stuck: 1, woken: 0, gaveUp: 1 }));
      const record = w.ledger.record(KEY);
      expect(record.claims.get(1)).toEqual(expect.objectContaining({ status: ClaimStatus.Abandoned, outcome: SkipReason.ClaimStuck }));
      expect(record.retries).toBe(1);
      expect(w.notifier.notices.map((n) => n.kind)).toEqual([NoticeKind.GaveUp]);
    });

    it('takes over the woken claim through the delay queue and makes the retry once', async () => {
      // Prepare
      const w = world();
      await w.claim(ClaimStatus.Retrying, 120);
      w.advance(121);
      await w.service.reconcile();
      const message = w.delays.sent[0]?.message;
      if (!message) throw new Error('no wake-up message');

      // Act
      await w.service.handleDelayed(message);
      await w.service.handleDelayed(message);

      // Assess: a dead holder may have called, so the action runs were read first; they show no new run.
      expect(w.pipelines.actionRunReads).toBe(1);
      expect(w.pipelines.retryCalls).toHaveLength(1);
      expect(w.ledger.record(KEY).claims.get(1)?.status).toBe(ClaimStatus.Retried);
    });
  });
});
