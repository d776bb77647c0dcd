import { checkRetryable, type Decision } from '../domain/decision';
import { type Claim, ClaimStatus, isStale } from '../domain/ledger';
import type { RetryPolicy } from '../domain/policy';
import { type ClaimOutcome, Outcome, SkipReason } from '../domain/reasons';
import { failureFingerprint, type StageFailure, type StageView } from '../domain/types';
import { RetryCallResult } from '../ports';
import { addSeconds, keyOf, type Result, type ServiceDeps } from './deps';
import type { Reporter } from './reporting';

/**
 * What the service does with a claim in the ledger: take it over, hand it to the delay queue,
 * make the retry and record how it ended. Every ledger change is conditional on the claim's
 * token, so only its current holder can move it.
 */
export class ClaimHandler {
  public constructor(
    private readonly deps: ServiceDeps,
    private readonly reporter: Reporter,
  ) {}

  /** Becomes the claim's holder, provided nobody else did since it was read. */
  public async acquire(failure: StageFailure, claim: Claim, now: Date): Promise<Claim | undefined> {
    const token = this.deps.newToken();
    const leaseUntil = this.lease(now);
    const ok = await this.deps.ledger.acquire(keyOf(failure), claim, token, leaseUntil);
    return ok ? { ...claim, token, status: ClaimStatus.Retrying, leaseUntil: leaseUntil.toISOString() } : undefined;
  }

  public lease(now: Date): Date {
    return addSeconds(now, this.deps.settings.leaseSeconds);
  }

  /**
   * Another instance holds the claim right now. Rather than drop this delivery (the holder may
   * crash) or fail it (noise), look again through the delay queue once the lease has run out.
   */
  public async deferCheck(failure: StageFailure, claim: Claim, now: Date): Promise<Result> {
    const at = addSeconds(new Date(claim.leaseUntil), 1);
    await this.deps.delays.send({ v: 1, failure, dueAt: at }, (at.getTime() - now.getTime()) / 1000);
    return this.reporter.decision(
      failure,
      claim.attempt,
      Outcome.Deferred,
      `retry in flight elsewhere; checking again at ${at.toISOString()}`,
    );
  }

  /** Hands a new claim to the delay queue until its cooldown ends. */
  public async schedule(failure: StageFailure, claim: Claim, dueAt: Date, now: Date, decision: Decision): Promise<Result> {
    try {
      await this.deps.delays.send({ v: 1, failure, dueAt }, (dueAt.getTime() - now.getTime()) / 1000);
    } catch (error) {
      // Give the slot back so the redelivered event can claim it again, then let the fault escape.
      await this.deps.ledger.release(keyOf(failure), claim).catch(() => false);
      throw error;
    }
    return this.reporter.decision(failure, claim.attempt, Outcome.Scheduled, `${decision.reason}; retry due at ${dueAt.toISOString()}`);
  }

  /** We hold the claim: re-check, call RetryStageExecution, record what happened. */
  public async retry(
    failure: StageFailure,
    claim: Claim,
    view: StageView | undefined,
    policy: RetryPolicy,
    decision: Decision | undefined,
    previousHolderMayHaveRetried = false,
  ): Promise<Result> {
    const keepSlot = previousHolderMayHaveRetried;
    if (!view) return this.abandon(failure, claim, SkipReason.StageNotFound, 'the stage is gone', keepSlot);
    const problem = checkRetryable(failure, view, policy.overrideBuiltIns);
    if (problem?.kind === 'skip') return this.abandon(failure, claim, problem.reason, problem.detail, keepSlot);
    if (failureFingerprint(view) !== claim.fingerprint) {
      return this.abandon(failure, claim, SkipReason.StageChanged, 'the failed actions changed since the failure was claimed', keepSlot);
    }

    const budgetId = `${failure.stage}#${failure.executionId}#${failure.occurrence}`;
    if (policy.budget) {
      const spent = await this.deps.budgets.reserve(failure.pipeline, budgetId, policy.budget, this.deps.clock());
      if (!spent.ok) {
        return this.abandon(
          failure,
          claim,
          SkipReason.BudgetExhausted,
          `circuit open: ${spent.used} of ${policy.budget.maxRetries} retries used in the last ${policy.budget.windowSeconds}s; ` +
            `it closes at ${spent.reopensAt.toISOString()}`,
          keepSlot,
          view,
        );
      }
    }
    const call = await this.deps.pipelines.retryStage(failure.pipeline, failure.stage, failure.executionId, claim.retryMode);
    const now = this.deps.clock();
    if (policy.budget && call.result !== RetryCallResult.Started) await this.deps.budgets.release(failure.pipeline, budgetId, now);
    const detail = `${call.error ?? ''}${call.message ? `: ${call.message}` : ''}`;
    switch (call.result) {
      case RetryCallResult.Started: {
        await this.finish(failure, claim, ClaimStatus.Retried, Outcome.Retried, `RetryStageExecution ${claim.retryMode}`, now);
        const why = decision && decision.kind !== 'skip' ? `${decision.reason}; ` : '';
        return this.reporter.decision(failure, claim.attempt, Outcome.Retried, `${why}RetryStageExecution ${claim.retryMode}`);
      }
      case RetryCallResult.NotRetryable:
        return this.abandon(failure, claim, SkipReason.NotRetryable, detail, false, view);
      case RetryCallResult.NotLatest:
        return this.abandon(failure, claim, SkipReason.Superseded, detail);
      case RetryCallResult.Busy:
        return this.retryLater(failure, claim, detail, now);
      case RetryCallResult.Permanent:
        await this.finish(failure, claim, ClaimStatus.Failed, Outcome.Failed, detail, now);
        await this.tellIfNeeded(failure, SkipReason.PermanentError, detail, view);
        return this.reporter.decision(failure, claim.attempt, Outcome.Failed, detail, { level: 'error', code: SkipReason.PermanentError });
    }
  }

  /** CodePipeline is busy: put the claim back to waiting and send it through the queue again. */
  private async retryLater(failure: StageFailure, claim: Claim, detail: string, now: Date): Promise<Result> {
    const { settings } = this.deps;
    if (claim.busyCount + 1 > settings.maxBusyRetries) {
      return this.abandon(failure, claim, SkipReason.BusyTooLong, `${detail} (${claim.busyCount + 1} times)`);
    }
    const dueAt = addSeconds(now, settings.busyRetryDelaySeconds);
    const token = this.deps.newToken();
    const moved = await this.deps.ledger.reschedule(keyOf(failure), claim, token, dueAt, addSeconds(dueAt, settings.scheduledGraceSeconds));
    if (!moved) return this.lostClaim(failure, claim);
    await this.deps.delays.send({ v: 1, failure, dueAt }, settings.busyRetryDelaySeconds);
    return this.reporter.decision(failure, claim.attempt, Outcome.Rescheduled, `${detail}; trying again at ${dueAt.toISOString()}`);
  }

  /** The claim ends without our retry; its slot is given back unless a crashed holder may have used it. */
  public async abandon(
    failure: StageFailure,
    claim: Claim,
    reason: SkipReason,
    detail: string,
    keepSlot = false,
    view?: StageView,
  ): Promise<Result> {
    const why = withSlotNote(detail, keepSlot);
    await this.finish(failure, claim, ClaimStatus.Abandoned, reason, why, this.deps.clock(), keepSlot);
    await this.tellIfNeeded(failure, reason, `${reason}: ${why}`, view);
    return this.reporter.decision(failure, claim.attempt, Outcome.Abandoned, `${reason}: ${why}`, { code: reason });
  }

  /**
   * A failure we decided not to retry: record why (once per reason), settle the claim of an
   * earlier delivery that died holding it, and tell operators the first time.
   */
  public async skip(failure: StageFailure, reason: SkipReason, detail: string, now: Date, view?: StageView): Promise<Result> {
    const { first, claim } = await this.deps.ledger.recordSkip(keyOf(failure), failure.occurrence, reason, detail, now, failure.failedAt);
    if (claim && isStale(claim, now)) {
      // An earlier delivery claimed this failure and died: settle its claim with this decision.
      const held = await this.acquire(failure, claim, now);
      const keepSlot = claim.status === ClaimStatus.Retrying;
      if (held) await this.finish(failure, held, ClaimStatus.Abandoned, reason, withSlotNote(detail, keepSlot), now, keepSlot);
    }
    // A redelivered event gets the same answer, but operators hear about it once.
    if (first) await this.tellIfNeeded(failure, reason, `${reason}: ${detail}`, view);
    return this.reporter.decision(failure, undefined, Outcome.Skipped, `${reason}: ${detail}`, { code: reason });
  }

  public lostClaim(failure: StageFailure, claim: Claim): Result {
    const detail = `${SkipReason.Duplicate}: another instance took the claim over meanwhile`;
    return this.reporter.decision(failure, claim.attempt, Outcome.Skipped, detail, { level: 'warn', code: SkipReason.Duplicate });
  }

  private async finish(
    failure: StageFailure,
    claim: Claim,
    status: typeof ClaimStatus.Retried | typeof ClaimStatus.Abandoned | typeof ClaimStatus.Failed,
    outcome: ClaimOutcome,
    reason: string,
    now: Date,
    keepSlot = false,
  ): Promise<void> {
    const done = await this.deps.ledger.finish(keyOf(failure), claim, { status, outcome, reason, now, keepSlot });
    if (!done) this.lostClaim(failure, claim);
  }

  private async tellIfNeeded(failure: StageFailure, reason: SkipReason, text: string, view: StageView | undefined): Promise<void> {
    const kind = this.reporter.noticeFor(reason);
    if (kind) await this.reporter.notify(failure, kind, text, view);
  }
}

/** Says why a claim that ends without our retry still counts, when it does. */
function withSlotNote(detail: string, keepSlot: boolean): string {
  return keepSlot ? `${detail} (a crashed earlier holder may have retried; its slot stays counted)` : detail;
}
