import { type Claim, ClaimStatus } from '../../../../lambda/domain/ledger';
import { Outcome, SkipReason } from '../../../../lambda/domain/reasons';
import { NoticeKind, type RetryCallOutcome, RetryCallResult } from '../../../../lambda/ports';
import { ClaimHandler } from '../../../../lambda/service/claim-handler';
import { Delivery } from '../../../../lambda/service/delivery';
import { Reporter } from '../../../../lambda/service/reporter';
import { resolvePolicy } from '../../../../policy/policy';
import { FAKE_EXECUTION, FAKE_KEY, FAKE_NOW, failedStage, serviceWorld, stageFailure } from '../../../support/fakes';

const POLICY = resolvePolicy({ default: { maxRetries: 2 } }).policy;

/** A claim handler for one delivery of the unit tests' failure, holding a fresh claim (the first retry of the stage execution). */
async function held(uncertain = false) {
  const w = serviceWorld({ maxRetries: 2 });
  const claimed = await w.ledger.claim(FAKE_KEY, {
    occurrence: 1,
    status: ClaimStatus.Retrying,
    retryMode: 'FAILED_ACTIONS',
    dueAt: FAKE_NOW,
    leaseUntil: new Date(FAKE_NOW.getTime() + 120_000),
    token: 'holder',
    fingerprint: 'UnitTests:action-1',
    maxRetries: 2,
    failedAt: FAKE_NOW,
    now: FAKE_NOW,
  });
  if (claimed.kind !== 'claimed') throw new Error('the fake ledger refused the claim');
  const claim: Claim = { ...claimed.claim, uncertain };
  const delivery = new Delivery(w.deps, new Reporter(w.deps), stageFailure(), FAKE_NOW);
  return { ...w, claim, handler: new ClaimHandler(w.deps, delivery) };
}

describe('Class: ClaimHandler', () => {
  describe('Method: retry', () => {
    it.each<[string, RetryCallOutcome, string, number, NoticeKind | undefined]>([
      ['the retry started', { result: RetryCallResult.Started }, ClaimStatus.Retried, 1, undefined],
      [
        'nothing is left to retry',
        { result: RetryCallResult.NotRetryable, error: 'StageNotRetryableException' },
        ClaimStatus.Abandoned,
        0,
        NoticeKind.NotRetryable,
      ],
      [
        'a newer execution owns the stage',
        { result: RetryCallResult.NotLatest, error: 'NotLatestPipelineExecutionException' },
        ClaimStatus.Abandoned,
        0,
        undefined,
      ],
      [
        'the refusal is permanent',
        { result: RetryCallResult.Permanent, error: 'ValidationException' },
        ClaimStatus.Failed,
        0,
        NoticeKind.RetryFailed,
      ],
      ['the pipeline is busy', { result: RetryCallResult.Busy, error: 'ConflictException' }, ClaimStatus.Scheduled, 1, undefined],
      [
        'CodePipeline throttled the call',
        { result: RetryCallResult.Throttled, error: 'ThrottlingException' },
        ClaimStatus.Scheduled,
        1,
        undefined,
      ],
    ])(
      'records what came of the call when %s, giving the slot back only when no retry happened',
      async (_case, answer, status, retries, notice) => {
        // Prepare
        const w = await held();
        w.pipelines.answers = [answer];

        // Act
        await w.handler.retry(w.claim, { view: failedStage(FAKE_EXECUTION), policy: POLICY, decision: undefined });

        // Assess
        expect(w.pipelines.retryCalls).toHaveLength(1);
        expect(w.record().claims.get(1)?.status).toBe(status);
        expect(w.record().retries).toBe(retries);
        expect(w.notifier.notices.map((n) => n.kind)).toEqual(notice ? [notice] : []);
      },
    );

    it('keeps the slot and looks again later, instead of calling twice, when the answer was unclear and the live state shows no retry', async () => {
      // Prepare
      const w = await held();
      w.pipelines.answers = [{ result: RetryCallResult.Ambiguous, error: 'TimeoutError' }];

      // Act
      const result = await w.handler.retry(w.claim, { view: failedStage(FAKE_EXECUTION), policy: POLICY, decision: undefined });

      // Assess
      expect(result.outcome).toBe(Outcome.Rescheduled);
      expect(w.pipelines.retryCalls).toHaveLength(1);
      expect(w.record().retries).toBe(1);
      expect(w.record().claims.get(1)).toEqual(expect.objectContaining({ status: ClaimStatus.Scheduled, uncertain: true }));
      expect(w.delays.sent).toHaveLength(1);
    });

    it('confirms an uncertain claim without calling when the live state shows its retry took effect', async () => {
      // Prepare: the failed action ran again since the claim was made.
      const w = await held(true);
      const view = failedStage(FAKE_EXECUTION, {}, { executionId: 'action-2' });

      // Act
      const result = await w.handler.retry(w.claim, { view, policy: POLICY, decision: undefined });

      // Assess
      expect(result.outcome).toBe(Outcome.Retried);
      expect(w.pipelines.retryCalls).toEqual([]);
      expect(w.record().claims.get(1)?.status).toBe(ClaimStatus.Retried);
    });

    it('treats a takeover as uncertain: it looks for evidence of the earlier holder’s call before calling', async () => {
      // Prepare: the action runs show the failed action ran again after the claim.
      const w = await held();
      w.pipelines.runs = [
        { actionName: 'UnitTests', actionExecutionId: 'action-1', startedAt: new Date(FAKE_NOW.getTime() - 60_000) },
        { actionName: 'UnitTests', actionExecutionId: 'action-2', startedAt: new Date(FAKE_NOW.getTime() + 1000) },
      ];

      // Act
      const result = await w.handler.retry(w.claim, {
        view: failedStage(FAKE_EXECUTION),
        policy: POLICY,
        decision: undefined,
        takeover: true,
      });

      // Assess
      expect(result.outcome).toBe(Outcome.Retried);
      expect(w.pipelines.actionRunReads).toBe(1);
      expect(w.pipelines.retryCalls).toEqual([]);
    });
  });

  describe('Method: abandon', () => {
    it.each([
      ['gives the slot back', false, 0],
      ['keeps the slot counted when an earlier call may have retried', true, 1],
    ])('ends the claim and %s', async (_case, keepSlot, retries) => {
      // Prepare
      const w = await held();

      // Act
      const result = await w.handler.abandon(w.claim, SkipReason.StageChanged, 'the failed actions changed', { keepSlot });

      // Assess
      expect(result.outcome).toBe(Outcome.Abandoned);
      expect(w.record().claims.get(1)?.status).toBe(ClaimStatus.Abandoned);
      expect(w.record().retries).toBe(retries);
    });
  });

  describe('Method: skip', () => {
    it('records the reason once and tells operators once when the same failure is delivered twice', async () => {
      // Prepare
      const w = serviceWorld();
      const handler = () => new ClaimHandler(w.deps, new Delivery(w.deps, new Reporter(w.deps), stageFailure(), FAKE_NOW));

      // Act
      await handler().skip(SkipReason.NeverRetryRule, 'a rule matches');
      await handler().skip(SkipReason.NeverRetryRule, 'a rule matches');

      // Assess
      expect(w.record().skips.get(1)).toEqual({ reason: SkipReason.NeverRetryRule, detail: 'a rule matches' });
      expect(w.notifier.notices.map((n) => n.kind)).toEqual([NoticeKind.NotRetryable]);
    });

    it('does not tell operators when the refusal may not be final', async () => {
      // Prepare
      const w = serviceWorld();
      const handler = new ClaimHandler(w.deps, new Delivery(w.deps, new Reporter(w.deps), stageFailure(), FAKE_NOW));

      // Act
      await handler.skip(SkipReason.MaxRetries, 'every slot is held', { notify: false });

      // Assess
      expect(w.notifier.notices).toEqual([]);
      expect(w.record().skips.get(1)?.reason).toBe(SkipReason.MaxRetries);
    });
  });
});
