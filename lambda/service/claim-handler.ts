import { type RetryPolicy, SPREAD_SHARE } from '../../policy/policy';
import { checkRetryable, type Decision, type LedgerSnapshot } from '../domain/decision';
import { ThrottledError, TransientFaultError } from '../domain/errors';
import { type Claim, ClaimStatus, isStale } from '../domain/ledger';
import { Outcome, SkipReason } from '../domain/reasons';
import { failedActionsRanAgain, failureFingerprint, retryTookEffect, type StageView } from '../domain/types';
import { type ClaimFinish, type RescheduleWhy, type RetryCallOutcome, RetryCallResult } from '../ports';
import type { Delivery } from './delivery';
import { addSeconds, type Result, type ServiceDeps } from './service-settings';

/**
 * What the service does with one delivery's claim in the ledger: take it over, hand it to the
 * delay queue, make the retry and record how it ended. Made per delivery, with it. Every ledger change is conditional on the claim's
 * token, so only its current holder can move it; every move whose next step fails is undone or
 * left recoverable; and after an unclear answer to RetryStageExecution the slot stays counted
 * and the live state decides whether the retry happened.
 */
export class ClaimHandler {
  public constructor(
    private readonly deps: ServiceDeps,
    private readonly delivery: Delivery,
  ) {}

  /**
   * Becomes the claim's holder, provided nobody else did since it was read. A write whose answer
   * was lost still makes us the holder: the ledger recognises its own write by the new token.
   */
  public async acquire(claim: Claim): Promise<Claim | undefined> {
    const { now } = this.delivery;
    const token = this.deps.newToken();
    const leaseUntil = this.lease(now);
    const ok = await this.delivery.acquire(claim, token, leaseUntil);
    return ok
      ? { ...claim, token, status: ClaimStatus.Retrying, leaseUntil: leaseUntil.toISOString(), heldSince: now.toISOString() }
      : undefined;
  }

  /**
   * A scheduled claim met again (a redelivered event): its delay message may never have been
   * sent (the sender died between the claim and SendMessage). Sending it again is harmless: only
   * a message with the claim's current token can take it.
   */
  public async resend(claim: Claim): Promise<Result> {
    const dueAt = new Date(claim.dueAt);
    await this.delivery.sendClaim(dueAt, claim.token, (dueAt.getTime() - this.delivery.now.getTime()) / 1000);
    const detail = `${SkipReason.Duplicate}: retry already scheduled for ${claim.dueAt}; its delay message sent again`;
    return this.delivery.decision(Outcome.Skipped, detail, { attempt: claim.attempt, code: SkipReason.Duplicate });
  }

  public lease(now: Date): Date {
    return addSeconds(now, this.deps.settings.leaseSeconds);
  }

  /**
   * Another instance holds the claim right now. Rather than drop this delivery (the holder may
   * crash) or fail it (noise), look again through the delay queue once the lease has run out.
   */
  public async deferCheck(claim: Claim): Promise<Result> {
    const at = addSeconds(new Date(claim.leaseUntil), 1);
    await this.delivery.sendClaim(at, claim.token, (at.getTime() - this.delivery.now.getTime()) / 1000);
    const reason = `retry in flight elsewhere; checking again at ${at.toISOString()}`;
    return this.delivery.decision(Outcome.Deferred, reason, { attempt: claim.attempt });
  }

  /** Hands a new claim to the delay queue until its cooldown ends. */
  public async schedule(claim: Claim, dueAt: Date, decision: Decision): Promise<Result> {
    try {
      await this.delivery.sendClaim(dueAt, claim.token, (dueAt.getTime() - this.delivery.now.getTime()) / 1000);
    } catch (error) {
      // Give the slot back so the redelivered event can claim it again, then let the fault escape.
      await this.delivery.release(claim).catch(() => false);
      throw error;
    }
    return this.delivery.decision(Outcome.Scheduled, `${decision.reason}; retry due at ${dueAt.toISOString()}`, { attempt: claim.attempt });
  }

  /**
   * We hold the claim: re-check, call RetryStageExecution, record what happened.
   */
  public async retry(claim: Claim, input: RetryInput): Promise<Result> {
    const { view, policy, decision, takeover } = input;
    // Taken from a holder whose lease ran out: it may have called. The claim is uncertain from now
    // on, and stays so (in the ledger too) whatever sends it back to waiting.
    if (takeover && !claim.uncertain) return this.retry({ ...claim, uncertain: true }, { view, policy, decision });
    const { failure } = this.delivery;
    const uncertain = claim.uncertain;
    const keep = { keepSlot: uncertain, policy };
    if (!view) return this.abandon(claim, SkipReason.StageNotFound, 'the stage is gone', keep);
    if (uncertain && retryTookEffect(failure.executionId, claim.fingerprint, claim.manualBefore, view)) {
      return this.confirm(claim, 'an earlier RetryStageExecution of this claim took effect (seen in the live state)');
    }
    const problem = checkRetryable(failure, view, policy.overrideBuiltIns);
    if (problem?.kind === 'skip') return this.abandon(claim, problem.reason, problem.detail, keep);
    if (failureFingerprint(view) !== claim.fingerprint) {
      return this.abandon(claim, SkipReason.StageChanged, 'the failed actions changed since the failure was claimed', keep);
    }
    if (decision?.kind === 'skip') return this.abandon(claim, decision.reason, decision.detail, { ...keep, view });
    if (decision?.kind === 'retry-at')
      return this.retryLater(claim, 'policy', `the policy now waits until ${decision.at.toISOString()}`, { at: decision.at });
    if (uncertain) {
      // An earlier call of this claim may have taken effect while the live state does not show it
      // yet (GetPipelineState lags behind): call again only on positive evidence that it did not.
      const evidence = await this.evidence(claim);
      if (evidence === 'ran') {
        return this.confirm(claim, 'an earlier RetryStageExecution of this claim took effect (its failed actions ran again)');
      }
      if (evidence === 'throttled') {
        // A throttled read: the growing waits of throttling, not a busy answer counted towards giving up.
        return this.retryLater(claim, 'throttled', 'CodePipeline throttled the read of the action executions');
      }
      if (evidence === 'unknown') {
        return this.retryLater(
          claim,
          'uncertain',
          'an earlier call may have retried, and the action executions could not be read to rule it out',
        );
      }
    }

    const { budgetId, ref } = this.delivery;
    if (policy.budget) {
      const spent = await this.deps.budgets.reserve(ref, budgetId, policy.budget, this.deps.clock());
      if (!spent.ok) {
        return this.abandon(
          claim,
          SkipReason.BudgetExhausted,
          `circuit open: ${spent.used} of ${policy.budget.maxRetries} retries used in the last ${policy.budget.windowSeconds}s; ` +
            `it closes at ${spent.reopensAt.toISOString()}`,
          { keepSlot: uncertain, view },
        );
      }
    }
    const call = await this.deps.pipelines.retryStage(ref, claim.retryMode);
    const now = this.deps.clock();
    const refused = call.result !== RetryCallResult.Started && call.result !== RetryCallResult.Ambiguous;
    if (policy.budget && refused && !uncertain) await this.deps.budgets.release(ref, budgetId, now);
    const detail = `${call.error ?? ''}${call.message ? `: ${call.message}` : ''}`;
    switch (call.result) {
      case RetryCallResult.Started: {
        await this.finish(claim, {
          status: ClaimStatus.Retried,
          outcome: Outcome.Retried,
          reason: `RetryStageExecution ${claim.retryMode}`,
          now,
        });
        const why = decision ? `${decision.reason}; ` : '';
        return this.delivery.decision(Outcome.Retried, `${why}RetryStageExecution ${claim.retryMode}`, { attempt: claim.attempt });
      }
      case RetryCallResult.Ambiguous:
        return this.settle(claim, call, 'uncertain', detail);
      case RetryCallResult.Throttled:
        return this.retryLater(claim, 'throttled', detail);
      case RetryCallResult.Busy:
        // Busy right after an unclear answer of ours may be our own retry running.
        return uncertain ? this.settle(claim, call, 'busy', detail) : this.retryLater(claim, 'busy', detail);
      case RetryCallResult.NotRetryable:
        if (uncertain) return this.settle(claim, call, 'not-retryable', detail);
        return this.abandon(claim, SkipReason.NotRetryable, detail, { view, policy });
      case RetryCallResult.NotLatest:
        return this.abandon(claim, SkipReason.Superseded, detail, keep);
      case RetryCallResult.Permanent:
        await this.finish(claim, {
          status: ClaimStatus.Failed,
          outcome: Outcome.Failed,
          reason: withSlotNote(detail, uncertain),
          now,
          keepSlot: uncertain,
        });
        await this.delivery.tellIfNeeded(SkipReason.PermanentError, detail, view);
        return this.delivery.decision(Outcome.Failed, detail, { attempt: claim.attempt, level: 'error', code: SkipReason.PermanentError });
    }
  }

  /**
   * The answer does not say whether our retry happened (a 5xx, a timeout, a dropped connection),
   * or a refusal followed an earlier unclear answer of ours. The slot stays counted; the live
   * state decides: the retry took effect, or it did not (yet), and we look again later.
   */
  private async settle(
    claim: Claim,
    call: RetryCallOutcome,
    then: 'uncertain' | 'busy' | 'not-retryable',
    detail: string,
  ): Promise<Result> {
    let after: StageView | undefined;
    try {
      const lookup = await this.deps.pipelines.getStage(this.delivery.ref);
      after = lookup.kind === 'found' ? lookup.view : undefined;
    } catch (error) {
      // The state cannot be read now (throttled, a fault): the next look decides.
      if (!(error instanceof TransientFaultError)) throw error;
    }
    if (after && retryTookEffect(this.delivery.ref.executionId, claim.fingerprint, claim.manualBefore, after)) {
      return this.confirm(claim, `RetryStageExecution answered ${call.error ?? 'unclearly'}; the live state shows the retry took effect`);
    }
    if (then === 'busy') return this.retryLater({ ...claim, uncertain: true }, 'busy', detail);
    if (then === 'not-retryable') {
      // Our earlier call may have been the retry that made the stage not retryable: keep the slot, tell no one.
      return this.abandon(claim, SkipReason.NotRetryable, detail, { keepSlot: true });
    }
    return this.retryLater(claim, 'uncertain', `answer unclear (${detail}); the live state does not show the retry yet`);
  }

  /**
   * Puts the claim back to waiting and sends it through the delay queue: CodePipeline was busy
   * or throttled us, an answer was unclear, or the policy now wants a later time. Gives up (and
   * says so) after too many busy or throttled answers. If the message cannot be sent, the claim
   * is left `retrying` with its lease run out, so the redelivered event takes it over.
   */
  private async retryLater(
    claim: Claim,
    why: RescheduleWhy | 'policy',
    detail: string,
    options: { readonly at?: Date } = {},
  ): Promise<Result> {
    const { at } = options;
    const { settings, random } = this.deps;
    const now = this.deps.clock();
    const busy = why === 'busy' || why === 'uncertain';
    if (busy && claim.busyCount + 1 > settings.maxBusyRetries) {
      const keepSlot = claim.uncertain || why === 'uncertain';
      return this.abandon(claim, SkipReason.BusyTooLong, `${detail} (${claim.busyCount + 1} times)`, { keepSlot });
    }
    if (why === 'throttled' && claim.throttleCount + 1 > settings.maxThrottleDeferrals) {
      const keepSlot = claim.uncertain;
      return this.abandon(claim, SkipReason.ThrottledTooLong, `${detail} (${claim.throttleCount + 1} times)`, { keepSlot });
    }
    const delay =
      why === 'throttled'
        ? throttleDelaySeconds(claim.throttleCount, settings, random)
        : why === 'uncertain'
          ? Math.round(settings.ambiguousRecheckSeconds * (1 + random() * SPREAD_SHARE))
          : why === 'busy'
            ? Math.round(settings.busyRetryDelaySeconds * (1 + random() * SPREAD_SHARE))
            : Math.max(1, Math.ceil(((at?.getTime() ?? now.getTime()) - now.getTime()) / 1000));
    const dueAt = addSeconds(now, delay);
    const token = this.deps.newToken();
    const reschedule: RescheduleWhy = why === 'policy' ? (claim.uncertain ? 'uncertain' : 'busy') : why;
    const moved = await this.delivery.reschedule(claim, token, dueAt, addSeconds(dueAt, settings.scheduledGraceSeconds), reschedule);
    if (!moved) return this.lostClaim(claim);
    try {
      await this.delivery.sendClaim(dueAt, token, delay);
    } catch (error) {
      await this.delivery.makeRecoverable({ ...claim, token }, now).catch(() => false);
      throw error;
    }
    return this.delivery.decision(Outcome.Rescheduled, `${detail}; trying again at ${dueAt.toISOString()}`, { attempt: claim.attempt });
  }

  /** The claim's retry happened after all: record it, keep the slot. */
  private async confirm(claim: Claim, why: string): Promise<Result> {
    await this.finish(claim, { status: ClaimStatus.Retried, outcome: Outcome.Retried, reason: why, now: this.deps.clock() });
    return this.delivery.decision(Outcome.Retried, why, { attempt: claim.attempt });
  }

  /**
   * The claim ends without our retry; its slot is given back unless an earlier call may have used
   * it, and so is what it took from the pipeline's budget (a holder that died may have taken it).
   */
  public async abandon(claim: Claim, reason: SkipReason, detail: string, options: AbandonOptions = {}): Promise<Result> {
    const keepSlot = options.keepSlot === true;
    const view = options.view;
    const why = withSlotNote(detail, keepSlot);
    const now = this.deps.clock();
    await this.finish(claim, { status: ClaimStatus.Abandoned, outcome: reason, reason: why, now, keepSlot });
    if (!keepSlot && options.policy?.budget) await this.deps.budgets.release(this.delivery.ref, this.delivery.budgetId, now);
    // An abandon that keeps the slot may hide our own retry: no "not retryable" notice for it.
    if (!(keepSlot && reason === SkipReason.NotRetryable)) await this.delivery.tellIfNeeded(reason, `${reason}: ${why}`, view);
    return this.delivery.decision(Outcome.Abandoned, `${reason}: ${why}`, { attempt: claim.attempt, code: reason });
  }

  /**
   * A failure we decided not to retry: record why (once per reason), settle the claim of an
   * earlier delivery that died holding it, and tell operators the first time (unless `notify` is
   * false: the refusal may not be final).
   */
  public async skip(reason: SkipReason, detail: string, options: SkipOptions = {}): Promise<Result> {
    const { view } = options;
    const { now } = this.delivery;
    const { first, claim, snapshot, id } = await this.delivery.recordSkip(reason, detail);
    const stale = claim !== undefined && isStale(claim, now);
    // A claim of this failure that another delivery holds, or that ended, stands (the skip was
    // not written): this delivery is a duplicate of the one that claimed it. The skip was
    // written after all when the claim was taken over between our write and its lost answer: take it back.
    if (claim && !stale) {
      if (first) await this.delivery.withdrawSkip(id);
      return options.onClaimed
        ? options.onClaimed(claim, snapshot)
        : this.delivery.duplicate(claim, `this failure has a claim (${claim.status})`);
    }
    if (claim && stale) {
      // An earlier delivery claimed this failure and died: settle its claim with this decision,
      // unless another instance (the reconciler) took it over first: then the claim is its to
      // decide and tell, and the skip written beside it is taken back.
      const held = await this.acquire(claim);
      if (!held) {
        if (first) await this.delivery.withdrawSkip(id);
        return this.lostClaim(claim);
      }
      const keepSlot = claim.status === ClaimStatus.Retrying || claim.uncertain;
      await this.finish(held, { status: ClaimStatus.Abandoned, outcome: reason, reason: withSlotNote(detail, keepSlot), now, keepSlot });
    }
    // A redelivered event gets the same answer, but operators hear about it once.
    if (first && options.notify !== false) await this.delivery.tellIfNeeded(reason, `${reason}: ${detail}`, view);
    return this.delivery.decision(Outcome.Skipped, `${reason}: ${detail}`, { code: reason });
  }

  public lostClaim(claim: Claim): Result {
    const detail = `${SkipReason.Duplicate}: another instance took the claim over meanwhile`;
    return this.delivery.decision(Outcome.Skipped, detail, { attempt: claim.attempt, level: 'warn', code: SkipReason.Duplicate });
  }

  /** A throttled read while holding the claim: the claim waits and comes back, nothing is spent. */
  public throttledRead(claim: Claim, error: ThrottledError): Promise<Result> {
    return this.retryLater(claim, 'throttled', error.message);
  }

  /**
   * Whether a retry of this claim took effect, from the stage's action runs in the execution:
   * `ran` (its failed actions ran again since it was claimed), `none` (positive evidence that no
   * call of ours took effect), `throttled` or `unknown` (the runs could not be read).
   */
  private async evidence(claim: Claim): Promise<'ran' | 'none' | 'throttled' | 'unknown'> {
    try {
      const runs = await this.deps.pipelines.actionRuns(this.delivery.ref);
      return failedActionsRanAgain(claim.fingerprint, runs, new Date(claim.claimedAt)) ? 'ran' : 'none';
    } catch (error) {
      if (error instanceof ThrottledError) return 'throttled';
      if (error instanceof TransientFaultError) return 'unknown';
      throw error;
    }
  }

  private async finish(claim: Claim, finish: ClaimFinish): Promise<void> {
    const done = await this.delivery.finish(claim, finish);
    if (!done) this.lostClaim(claim);
  }
}

/** The wait after the n-th throttled answer: doubling from the base up to the cap, with equal jitter. */
export function throttleDelaySeconds(
  count: number,
  settings: Pick<ServiceDeps['settings'], 'throttleBaseDelaySeconds' | 'throttleMaxDelaySeconds'>,
  random: () => number,
): number {
  const ceiling = Math.min(settings.throttleMaxDelaySeconds, settings.throttleBaseDelaySeconds * 2 ** Math.min(count, 20));
  return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/** What a retry of a held claim goes by. */
export interface RetryInput {
  /** The live state as last read; none when the stage is gone. */
  readonly view: StageView | undefined;
  readonly policy: RetryPolicy;
  /** The policy's word at this moment (for a delayed retry, the policy re-evaluated when it came due); none when the stage is gone. */
  readonly decision: Decision | undefined;
  /** Taken over from a holder whose lease ran out: its call may have taken effect. @default false */
  readonly takeover?: boolean;
}

export interface SkipOptions {
  /** The live state, for the notice's failure summary. @default none */
  readonly view?: StageView | undefined;
  /** Tell operators (the first time). False when the refusal may not be final. @default true */
  readonly notify?: boolean;
  /**
   * What becomes of the delivery when the occurrence has a claim that stands (another delivery
   * holds it, or it ended). @default a duplicate's decision
   */
  readonly onClaimed?: (claim: Claim, snapshot: LedgerSnapshot) => Promise<Result>;
}

export interface AbandonOptions {
  /** Keep the retry slot (and the budget): an earlier call may have retried. @default false */
  readonly keepSlot?: boolean;
  /** The live state, for the notice's failure summary. @default none */
  readonly view?: StageView | undefined;
  /** The policy the claim ran under: its budget is given back with the slot. @default none (no budget to give back) */
  readonly policy?: RetryPolicy;
}

/** Says why a claim that ends without our retry still counts, when it does. */
function withSlotNote(detail: string, keepSlot: boolean): string {
  return keepSlot ? `${detail} (an earlier call may have retried; its slot stays counted)` : detail;
}
