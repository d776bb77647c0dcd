// Over 300 lines: the service's behaviour, one describe per entry point, over the shared fakes.
import { MetricName } from '../../../../contract';
import { TransientFaultError } from '../../../../lambda/domain/errors';
import { ClaimStatus } from '../../../../lambda/domain/ledger';
import { Outcome, SkipReason } from '../../../../lambda/domain/reasons';
import type { StageView } from '../../../../lambda/domain/types';
import { NoticeKind, RetryCallResult } from '../../../../lambda/ports';
import { DEFAULT_SETTINGS } from '../../../../lambda/service/service-settings';
import type { PolicyPatch } from '../../../../policy/policy';
import { FAKE_EXECUTION, FAKE_KEY, FAKE_NOW, type FakeLedger, failedStage, serviceWorld, stageFailure } from '../../../support/fakes';

const NOW = FAKE_NOW;
const EXECUTION = FAKE_EXECUTION;
const HERE = { account: '123456789012', region: 'us-east-1' };
const KEY = FAKE_KEY;
const failure = stageFailure;

/** Another instance claims the failure and holds it for the lease (120 s from NOW). */
function holdClaim(ledger: FakeLedger, token: string) {
  return ledger.claim(KEY, {
    occurrence: 1,
    status: ClaimStatus.Retrying,
    retryMode: 'FAILED_ACTIONS',
    dueAt: NOW,
    leaseUntil: new Date(NOW.getTime() + 120_000),
    token,
    fingerprint: 'UnitTests:action-1',
    maxRetries: 2,
    failedAt: NOW,
    now: NOW,
  });
}

const world = serviceWorld;

describe('Class: RetryService', () => {
  describe('Method: handleFailure', () => {
    it('retries at once when the policy has no cooldown, and records it', async () => {
      // Prepare
      const w = world({ maxRetries: 2 });

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result).toEqual(expect.objectContaining({ outcome: Outcome.Retried, attempt: 1 }));
      expect(w.pipelines.retryCalls).toEqual([
        { at: HERE, pipeline: 'web-app', stage: 'Test', executionId: EXECUTION, retryMode: 'FAILED_ACTIONS' },
      ]);
      expect(w.record().claims.get(1)).toEqual(expect.objectContaining({ status: ClaimStatus.Retried, outcome: 'retried' }));
      expect(w.metrics.counts).toEqual([{ name: MetricName.RetryAttempted, dimensions: {} }]);
      expect(w.logger.decisions()).toEqual([expect.objectContaining({ decision: 'retried', attempt: 1, level: 'info' })]);
    });

    it('hands the claim to the delay queue when a cooldown applies', async () => {
      // Prepare
      const w = world({ cooldownSeconds: 300 });

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Scheduled);
      expect(w.pipelines.retryCalls).toHaveLength(0);
      expect(w.delays.sent).toEqual([
        { message: expect.objectContaining({ dueAt: new Date(NOW.getTime() + 300_000) }), delaySeconds: 300 },
      ]);
      expect(w.record().claims.get(1)?.status).toBe(ClaimStatus.Scheduled);
    });

    it.each<[string, PolicyPatch, boolean, StageView, SkipReason, boolean]>([
      ['the pipeline is paused', {}, true, failedStage(EXECUTION), SkipReason.Paused, true],
      ['retries are off', { maxRetries: 0 }, false, failedStage(EXECUTION), SkipReason.RetriesDisabled, true],
      ['the approval was rejected', {}, false, failedStage(EXECUTION, {}, { category: 'Approval' }), SkipReason.ApprovalRejected, true],
      [
        'a never-retry rule matches',
        { neverRetryOn: [{ code: ['JobFailed'] }] },
        false,
        failedStage(EXECUTION),
        SkipReason.NeverRetryRule,
        true,
      ],
      // The failure moved on: nothing to record, the state read is the only call.
      ['a newer execution owns the stage', {}, false, failedStage('another'), SkipReason.Superseded, false],
      [
        'the stage runs again after a retry begun since the failure',
        {},
        false,
        failedStage(EXECUTION, { status: 'InProgress', retryMetadata: { automatic: 0, manual: 1 } }),
        SkipReason.StageInProgress,
        false,
      ],
    ])('skips without a claim when %s, and says why', async (_case, policy, paused, view, reason, recorded) => {
      // Prepare
      const w = world(policy, view);
      w.policies.paused = paused;

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Skipped);
      expect(result.reason.startsWith(`${reason}:`)).toBe(true);
      expect(w.pipelines.retryCalls).toHaveLength(0);
      expect(w.record().claims.size).toBe(0);
      expect(w.record().skips.get(1)?.reason).toBe(recorded ? reason : undefined);
      expect(w.metrics.counts).toEqual([{ name: MetricName.RetrySkipped, dimensions: { Reason: reason } }]);
    });

    it('reads again later, instead of dropping the failure, when the live state lags behind the event', async () => {
      // Prepare: the read still shows the stage running, with nothing changed since the failure and no retry counted.
      const w = world(
        {},
        failedStage(EXECUTION, { status: 'InProgress' }, { status: 'InProgress', changedAt: new Date(NOW.getTime() - 60_000) }),
      );

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Deferred);
      expect(w.record().skips.size).toBe(0);
      expect(w.delays.sent).toEqual([
        { message: expect.objectContaining({ kind: 'event', staleChecks: 1 }), delaySeconds: DEFAULT_SETTINGS.staleRecheckSeconds },
      ]);
    });

    it('records the drop of a failure the reads kept showing in progress, once the re-reads are spent', async () => {
      // Prepare
      const w = world(
        {},
        failedStage(EXECUTION, { status: 'InProgress' }, { status: 'InProgress', changedAt: new Date(NOW.getTime() - 60_000) }),
      );

      // Act
      const result = await w.service.handleFailure(failure(), { staleChecks: DEFAULT_SETTINGS.maxStaleChecks });

      // Assess
      expect(result.outcome).toBe(Outcome.Skipped);
      expect(w.record().skips.get(1)).toEqual(expect.objectContaining({ reason: SkipReason.StageInProgress }));
      expect(w.delays.sent).toEqual([]);
    });

    it('waits for an earlier claim that has not ended instead of refusing for good, and tells no one yet', async () => {
      // Prepare: maxRetries 1, the slot held by occurrence 1's scheduled retry.
      const w = world({ maxRetries: 1, cooldownSeconds: 300, jitter: 'none' });
      await w.service.handleFailure(failure());
      w.pipelines.lookup = { kind: 'found', view: failedStage(EXECUTION, {}, { executionId: 'action-2' }) };

      // Act
      const result = await w.service.handleFailure(failure({ occurrence: 2 }));

      // Assess
      expect(result.outcome).toBe(Outcome.Deferred);
      expect(w.notifier.notices).toEqual([]);
      expect(w.delays.sent.at(-1)).toEqual({
        message: expect.objectContaining({ kind: 'event', slotWaits: 1 }),
        delaySeconds: 300 + DEFAULT_SETTINGS.slotWaitMarginSeconds,
      });
    });

    it('tells operators once when a stage runs out of retries, however often the event comes', async () => {
      // Prepare
      const w = world({ maxRetries: 1 });
      await w.service.handleFailure(failure());
      w.pipelines.lookup = { kind: 'found', view: failedStage(EXECUTION, {}, { executionId: 'action-2' }) };

      // Act
      const first = await w.service.handleFailure(failure({ occurrence: 2 }));
      const again = await w.service.handleFailure(failure({ occurrence: 2 }));

      // Assess
      expect([first.outcome, again.outcome]).toEqual([Outcome.Skipped, Outcome.Skipped]);
      expect(first.reason.startsWith(SkipReason.MaxRetries)).toBe(true);
      expect(w.notifier.notices.map((n) => n.kind)).toEqual([NoticeKind.Exhausted]);
      expect(w.metrics.counts.filter((c) => c.name === MetricName.RetriesExhausted)).toHaveLength(2);
    });

    it('treats a delivery after the retry as a duplicate', async () => {
      // Prepare
      const w = world();
      await w.service.handleFailure(failure());
      w.pipelines.lookup = { kind: 'found', view: failedStage(EXECUTION) };

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result).toEqual(expect.objectContaining({ outcome: Outcome.Skipped, reason: expect.stringMatching(/^duplicate:/) }));
      expect(w.pipelines.retryCalls).toHaveLength(1);
    });

    it('checks back through the queue when another instance holds the claim', async () => {
      // Prepare: a holder claimed the failure and has not finished.
      const w = world();
      await holdClaim(w.ledger, 'holder');

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Deferred);
      expect(w.delays.sent).toEqual([
        { message: expect.objectContaining({ dueAt: new Date(NOW.getTime() + 121_000) }), delaySeconds: 121 },
      ]);
      expect(w.pipelines.retryCalls).toHaveLength(0);
    });

    it('takes over from a crashed holder and retries once, when its retry never happened', async () => {
      // Prepare
      const w = world();
      await holdClaim(w.ledger, 'dead-holder');
      w.advance(180);

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Retried);
      expect(w.pipelines.retryCalls).toHaveLength(1);
      expect(w.record().retries).toBe(1);
    });

    it('takes over from a crashed holder and confirms, without a call, when the failed actions ran again since the claim', async () => {
      // Prepare: the read lags behind (it still shows the failure), but the action runs show the retry.
      const w = world();
      await holdClaim(w.ledger, 'dead-holder');
      w.advance(180);
      w.pipelines.runs = [
        { actionName: 'UnitTests', actionExecutionId: 'action-2', startedAt: new Date(NOW.getTime() + 1000) },
        { actionName: 'UnitTests', actionExecutionId: 'action-1', startedAt: new Date(NOW.getTime() - 300_000) },
      ];

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Retried);
      expect(w.pipelines.retryCalls).toHaveLength(0);
      expect(w.record().claims.get(1)).toEqual(expect.objectContaining({ status: ClaimStatus.Retried }));
      expect(w.record().retries).toBe(1);
    });

    it('keeps a dead holder’s claim waiting, its slot counted, when the action runs cannot be read to rule out its call', async () => {
      // Prepare
      const w = world();
      await holdClaim(w.ledger, 'dead-holder');
      w.advance(180);
      w.pipelines.actionRuns = async () => {
        throw new TransientFaultError('CodePipeline read failed');
      };

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Rescheduled);
      expect(w.pipelines.retryCalls).toHaveLength(0);
      expect(w.record().claims.get(1)).toEqual(expect.objectContaining({ status: ClaimStatus.Scheduled, uncertain: true }));
      expect(w.record().retries).toBe(1);
    });

    it('sends the delay message of a scheduled claim again when its event is delivered again', async () => {
      // Prepare
      const w = world({ cooldownSeconds: 60, jitter: 'none' });
      await w.service.handleFailure(failure());

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.reason.startsWith(`${SkipReason.Duplicate}: retry already scheduled`)).toBe(true);
      const token = w.record().claims.get(1)?.token;
      expect(w.delays.sent.map((s) => ({ token: (s.message as { token?: string }).token, delay: s.delaySeconds }))).toEqual([
        { token, delay: 60 },
        { token, delay: 60 },
      ]);
    });

    it('decides and records but never retries in observe mode', async () => {
      // Prepare
      const w = world({ mode: 'observe' });

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result).toEqual(
        expect.objectContaining({ outcome: Outcome.Observed, reason: expect.stringMatching(/^observe-only: would retry/) }),
      );
      expect(w.pipelines.retryCalls).toHaveLength(0);
      expect(w.record().skips.get(1)?.reason).toBe(SkipReason.ObserveOnly);
    });

    it('opens the circuit when the pipeline budget is spent, gives the slot back and says so', async () => {
      // Prepare
      const w = world({ budget: { maxRetries: 1, windowSeconds: 3600 } });
      w.budgets.open = { used: 1, reopensAt: new Date(NOW.getTime() + 3_600_000) };

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Abandoned);
      expect(result.reason.startsWith(SkipReason.BudgetExhausted)).toBe(true);
      expect(w.pipelines.retryCalls).toHaveLength(0);
      expect(w.record().retries).toBe(0);
      expect(w.notifier.notices.map((n) => n.kind)).toEqual([NoticeKind.CircuitOpen]);
    });

    it('gives the slot back and lets the fault escape when the delay queue cannot take a scheduled retry', async () => {
      // Prepare
      const w = world({ cooldownSeconds: 60 });
      w.delays.failing = new TransientFaultError('SQS unreachable');

      // Act
      const outcome = w.service.handleFailure(failure());

      // Assess
      await expect(outcome).rejects.toBeInstanceOf(TransientFaultError);
      expect(w.record().claims.size).toBe(0);
      expect(w.record().retries).toBe(0);
    });
  });

  describe('Method: handleFailure, what RetryStageExecution answers', () => {
    it.each([
      [RetryCallResult.NotRetryable, Outcome.Abandoned, ClaimStatus.Abandoned, SkipReason.NotRetryable, [NoticeKind.NotRetryable]],
      [RetryCallResult.NotLatest, Outcome.Abandoned, ClaimStatus.Abandoned, SkipReason.Superseded, []],
      [RetryCallResult.Permanent, Outcome.Failed, ClaimStatus.Failed, 'failed', [NoticeKind.RetryFailed]],
    ] as const)(
      'records %s as %s (claim %s), gives the slot back and notifies as it should',
      async (answer, outcome, status, recorded, notices) => {
        // Prepare
        const w = world();
        w.pipelines.answers = [{ result: answer, error: 'SomeException', message: 'refused' }];

        // Act
        const result = await w.service.handleFailure(failure());

        // Assess
        expect(result.outcome).toBe(outcome);
        expect(w.record().claims.get(1)).toEqual(expect.objectContaining({ status, outcome: recorded }));
        expect(w.record().retries).toBe(0);
        expect(w.notifier.notices.map((n) => n.kind)).toEqual(notices);
      },
    );

    it('reschedules through the delay queue when CodePipeline is busy', async () => {
      // Prepare
      const w = world();
      w.pipelines.answers = [{ result: RetryCallResult.Busy, error: 'ConflictException' }];

      // Act
      const result = await w.service.handleFailure(failure());

      // Assess
      expect(result.outcome).toBe(Outcome.Rescheduled);
      expect(w.record().claims.get(1)).toEqual(expect.objectContaining({ status: ClaimStatus.Scheduled, busyCount: 1 }));
      expect(w.delays.sent.map((s) => s.delaySeconds)).toEqual([DEFAULT_SETTINGS.busyRetryDelaySeconds]);
    });
  });

  describe('Method: handleDelayed', () => {
    it('sends a message that is not yet due back to the queue for the time left, while the ledger holds its claim', async () => {
      // Prepare
      const w = world({ cooldownSeconds: 2000, jitter: 'none' });
      await w.service.handleFailure(failure());
      const message = w.delays.sent[0]?.message;
      if (!message) throw new Error('no delay message');

      // Act
      const result = await w.service.handleDelayed(message);

      // Assess
      expect(result.outcome).toBe(Outcome.Waiting);
      expect(w.delays.sent.at(-1)).toEqual({ message: expect.objectContaining({ dueAt: message.dueAt }), delaySeconds: 2000 });
    });

    it('leaves a message for a claim the ledger does not hold for the DLQ instead of chaining it', async () => {
      // Prepare
      const w = world();
      const dueAt = new Date(NOW.getTime() + 6 * 3600 * 1000);

      // Act
      const handled = w.service.handleDelayed({ v: 1, kind: 'claim', failure: failure(), dueAt, token: 'unknown' });

      // Assess
      await expect(handled).rejects.toThrow('delay-queue message for a claim the ledger does not hold');
      expect(w.delays.sent).toEqual([]);
    });

    it('retries a scheduled claim when it comes due', async () => {
      // Prepare
      const w = world({ cooldownSeconds: 60 });
      await w.service.handleFailure(failure());
      const message = w.delays.sent[0]?.message;
      w.advance(60);

      // Act
      const result = message ? await w.service.handleDelayed(message) : undefined;

      // Assess
      expect(result?.outcome).toBe(Outcome.Retried);
      expect(w.pipelines.retryCalls).toHaveLength(1);
    });

    it('sends the claim’s token with a scheduled retry, and still takes a claim from an older message without one', async () => {
      // Prepare
      const w = world({ cooldownSeconds: 60 });
      await w.service.handleFailure(failure());
      const sent = w.delays.sent[0]?.message;
      w.advance(60);

      // Act: the message as an older version wrote it, with no token.
      const result = await w.service.handleDelayed({ v: 1, kind: 'claim', failure: failure(), dueAt: sent?.dueAt ?? NOW });

      // Assess
      expect(sent).toEqual(expect.objectContaining({ kind: 'claim', token: 'token-1' }));
      expect(result.outcome).toBe(Outcome.Retried);
      expect(w.pipelines.retryCalls).toHaveLength(1);
    });

    it('abandons a waiting retry of a pipeline paused meanwhile, and gives the slot back', async () => {
      // Prepare
      const w = world({ cooldownSeconds: 60 });
      await w.service.handleFailure(failure());
      const message = w.delays.sent[0]?.message;
      w.policies.paused = true;
      w.advance(60);

      // Act
      const result = message ? await w.service.handleDelayed(message) : undefined;

      // Assess
      expect(result?.outcome).toBe(Outcome.Abandoned);
      expect(result?.reason.startsWith(SkipReason.Paused)).toBe(true);
      expect(w.pipelines.retryCalls).toHaveLength(0);
      expect(w.record().retries).toBe(0);
    });

    it('says so when the claim a message carries is gone', async () => {
      // Prepare
      const w = world();

      // Act
      const result = await w.service.handleDelayed({ v: 1, failure: failure(), dueAt: NOW });

      // Assess
      expect(result).toEqual(expect.objectContaining({ outcome: Outcome.Skipped, reason: expect.stringMatching(/^no-claim:/) }));
      expect(w.logger.decisions()).toEqual([expect.objectContaining({ level: 'warn' })]);
    });
  });

  describe('Method: handleSuccess', () => {
    it('counts a recovery once after our retries, and nothing when we never retried', async () => {
      // Prepare
      const w = world();
      const untouched = await w.service.handleSuccess(failure());
      await w.service.handleFailure(failure());

      // Act
      const recovered = await w.service.handleSuccess(failure());
      const again = await w.service.handleSuccess(failure());

      // Assess
      expect(untouched).toBeUndefined();
      expect(recovered).toEqual(expect.objectContaining({ outcome: Outcome.Recovered, attempt: 1 }));
      expect(again).toBeUndefined();
      expect(w.metrics.counts.filter((c) => c.name === MetricName.RetryRecovered)).toHaveLength(1);
    });
  });
});
