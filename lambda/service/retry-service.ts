import { InvalidInputError } from '../../policy/errors';
import { MAX_COOLDOWN_SECONDS, PolicyMode, type RetryPolicy, resolvePolicy, SPREAD_SHARE } from '../../policy/policy';
import { type Decision, decide, type LedgerSnapshot } from '../domain/decision';
import { ThrottledError, TransientFaultError } from '../domain/errors';
import type { DelayedRetryMessage } from '../domain/events';
import { type Claim, ClaimStatus, isOpen, isStale, TERMINAL_STATUSES } from '../domain/ledger';
import { notServed } from '../domain/membership';
import { Outcome, SkipReason } from '../domain/reasons';
import {
  CLOCK_SKEW_SECONDS,
  FALLBACK_OCCURRENCE_BASE,
  failureFingerprint,
  fallbackOccurrence,
  lagsBehind,
  type ReportedFailure,
  type StageFailure,
  StageStatus,
  type StageView,
  saneFailureTime,
} from '../domain/types';
import type { PolicyContext } from '../ports';
import { ClaimHandler, throttleDelaySeconds } from './claim-handler';
import { addSeconds, keyOf, type Result, type ServiceDeps } from './deps';
import { Reconciler } from './reconciler';
import { Reporter } from './reporter';

/** The latest a message we sent can be due: the longest cooldown, spread by jitter, and an hour's grace. */
const MAX_DUE_AHEAD_SECONDS = MAX_COOLDOWN_SECONDS * (1 + SPREAD_SHARE) + 3600;

/** A delivery whose failure already has a claim, with what the delivery read. */
interface ExistingClaim {
  readonly reported: ReportedFailure;
  readonly failure: StageFailure;
  readonly claim: Claim;
  readonly view: StageView | undefined;
  readonly now: Date;
  readonly context: PolicyContext;
  readonly snapshot: LedgerSnapshot;
  readonly options: FailureOptions;
}

/** The longest of the growing waits between two looks at slots held by open claims. */
const MAX_SLOT_WAIT_STEP_SECONDS = 900;

/** Skip reasons that say the failure has moved on: the stage runs again, succeeded, or a newer execution owns it. */
const MOVED_ON: readonly SkipReason[] = [SkipReason.StageInProgress, SkipReason.StageNotFailed, SkipReason.Superseded];

/** How a failure comes back from the delay queue when its handling had to wait. */
export interface FailureOptions {
  /** Waits so far for throttling: the next one is longer. */
  readonly deferrals?: number;
  /** The bounded wait for the stage's own onFailure retry is over. */
  readonly nativeWaitOver?: boolean;
  /** The failed actions when the wait began: if they changed, the failure has moved on. */
  readonly fingerprint?: string;
  /** Reads so far that lagged behind the failure. */
  readonly staleChecks?: number;
  /** Waits so far for earlier claims to give their slots back. */
  readonly slotWaits?: number;
}

/**
 * Orchestrates one failure: re-check the live state, decide, claim in the ledger, then retry now
 * or hand the claim to the delay queue. Throttling never spends Lambda's retries: the work waits
 * in the delay queue and comes back. Other faults (DynamoDB, SQS) escape as TransientFaultError
 * so the event is kept by Lambda's retry.
 */
export class RetryService {
  private readonly reporter: Reporter;
  private readonly claims: ClaimHandler;
  private readonly reconciler: Reconciler;

  public constructor(private readonly deps: ServiceDeps) {
    this.reporter = new Reporter(deps);
    this.claims = new ClaimHandler(deps, this.reporter);
    this.reconciler = new Reconciler(deps, this.reporter, this.claims);
  }

  /** The scheduled run: every claim past its deadline is woken (or, after too many wake-ups, given up). */
  public reconcile(): ReturnType<Reconciler['run']> {
    return this.reconciler.run();
  }

  public async handleFailure(reported: ReportedFailure, options: FailureOptions = {}): Promise<Result> {
    const refused = this.refuse(reported);
    if (refused) return refused;
    try {
      return await this.decideFailure(reported, options);
    } catch (error) {
      if (error instanceof ThrottledError) return this.deferEvent(reported, options, error);
      throw error;
    }
  }

  private async decideFailure(reported: ReportedFailure, options: FailureOptions): Promise<Result> {
    const { pipelines, policies, ledger, clock, settings } = this.deps;
    // Policies first (cached on a warm instance), then the live state and, only when the policy
    // needs its history (backoff, retry window, counting others' retries), the ledger record.
    // Otherwise the conditional claim alone settles duplicates and limits: one call fewer.
    const context = await policies.load(reported, reported.stage);
    const resolved = resolvePolicy(context.layers);
    const { policy } = resolved;
    const history = needsLedgerHistory(policy);
    const [lookup, early] = await Promise.all([
      pipelines.getStage(keyOf(reported)),
      history && reported.occurrence !== undefined ? ledger.view(keyOf(reported), reported.occurrence) : Promise.resolve(undefined),
    ]);
    const now = clock();
    for (const problem of context.problems) this.deps.logger.log('warn', 'ignoring invalid policy field', { problem });
    const view = lookup.kind === 'found' ? lookup.view : undefined;
    const failedAt = saneFailureTime(reported.failedAt, now);
    if (failedAt !== reported.failedAt) {
      this.deps.logger.log('warn', 'event time lies ahead of our clock: taken as now', {
        eventId: reported.eventId,
        time: reported.failedAt.toISOString(),
      });
    }
    // An event without an attempt number is named by its failed actions.
    const failure: StageFailure = {
      ...reported,
      failedAt,
      occurrence: reported.occurrence ?? (view ? fallbackOccurrence(view) : FALLBACK_OCCURRENCE_BASE),
    };
    if (lookup.kind === 'no-pipeline') {
      return this.claims.skip(failure, SkipReason.PipelineNotFound, `pipeline ${failure.pipeline} does not exist`, now);
    }
    // A later failure of the execution whose read shows the stage failed: the ledger says whether
    // that failure is one our earlier retry already re-ran (the read then lags behind).
    const repeat = view?.status === StageStatus.Failed && failure.occurrence > 1 && failure.occurrence < FALLBACK_OCCURRENCE_BASE;
    const recorded = early ?? (history || repeat ? await ledger.view(keyOf(failure), failure.occurrence) : undefined);
    // This failure already has a claim: a duplicate delivery, or a takeover after a crash.
    const existing = { reported, failure, view, now, context, options };
    if (recorded?.claim) return this.handleExistingClaim({ ...existing, claim: recorded.claim, snapshot: recorded.snapshot });
    if (view && recorded && lagsBehind(failure, view, recorded.retriedFingerprints)) {
      const detail = 'the live state still shows the failure an earlier retry of ours re-ran';
      return this.recheck(reported, failure, SkipReason.StateLagsBehind, detail, options, now, view);
    }
    if (options.fingerprint !== undefined && view && failureFingerprint(view) !== options.fingerprint) {
      return this.claims.skip(failure, SkipReason.StageChanged, 'the failed actions changed while this failure waited', now, view);
    }
    const snapshot = recorded?.snapshot ?? { retries: 0, firstFailureAt: undefined };

    const decision = decide(
      failure,
      view,
      resolved,
      {
        paused: context.paused,
        ledger: snapshot,
        random: this.deps.random,
        nativeWaitOver: options.nativeWaitOver === true,
        ...(this.deps.match ? { match: this.deps.match } : {}),
      },
      now,
    );
    if (decision.kind === 'skip') {
      if (decision.reason === SkipReason.NativeRetryPending && view) return this.waitForNativeRetry(failure, view, decision.detail, now);
      if (MOVED_ON.includes(decision.reason)) {
        // The read may lag behind the event (GetPipelineState is eventually consistent): read again later.
        if (view && lagsBehind(failure, view)) return this.recheck(reported, failure, decision.reason, decision.detail, options, now, view);
        // The live state shows the failure already moved on (usually: a duplicate after our retry).
        // Nothing to decide or to settle, so nothing is written: one call, the state read.
        return this.reporter.decision(failure, undefined, Outcome.Skipped, `${decision.reason}: ${decision.detail}`, {
          code: decision.reason,
        });
      }
      if (decision.reason === SkipReason.MaxRetries && recorded && recorded.open.length > 0) {
        return this.waitForSlots(reported, failure, recorded.open, decision.detail, options, now, view);
      }
      return this.claims.skip(failure, decision.reason, decision.detail, now, view);
    }
    if (policy.mode === PolicyMode.Observe) {
      const would = decision.kind === 'retry-now' ? 'now' : `at ${decision.at.toISOString()}`;
      const detail = `would retry ${decision.retryMode} ${would} (${decision.reason})`;
      await ledger.recordSkip(keyOf(failure), failure.occurrence, SkipReason.ObserveOnly, detail, now, failure.failedAt);
      return this.reporter.decision(failure, undefined, Outcome.Observed, `${SkipReason.ObserveOnly}: ${detail}`);
    }

    const retryNow = decision.kind === 'retry-now';
    const dueAt = decision.kind === 'retry-at' ? decision.at : now;
    const result = await ledger.claim(keyOf(failure), {
      occurrence: failure.occurrence,
      status: retryNow ? ClaimStatus.Retrying : ClaimStatus.Scheduled,
      retryMode: decision.retryMode,
      dueAt,
      leaseUntil: retryNow ? this.claims.lease(now) : addSeconds(dueAt, settings.scheduledGraceSeconds),
      token: this.deps.newToken(),
      fingerprint: view ? failureFingerprint(view) : '',
      maxRetries: decision.allowedRetries,
      ...(recorded ? { expectedRetries: recorded.snapshot.retries } : {}),
      manualBefore: view?.retryMetadata?.manual ?? 0,
      failedAt: failure.failedAt,
      eventId: failure.eventId,
      pipelineVersion: failure.pipelineVersion,
      now,
    });
    switch (result.kind) {
      case 'exhausted': {
        const detail = `all ${policy.maxRetries} automatic retries of this stage execution are used`;
        if (result.open.length > 0) return this.waitForSlots(reported, failure, result.open, detail, options, now, view);
        return this.claims.skip(failure, SkipReason.MaxRetries, detail, now, view);
      }
      case 'exists':
        return this.handleExistingClaim({ ...existing, claim: result.claim, snapshot });
      case 'claimed':
        if (retryNow) return this.claims.retry(failure, result.claim, view, policy, decision);
        return this.claims.schedule(failure, result.claim, dueAt, now, decision);
    }
  }

  /** A delay-queue message: chain if not yet due, else handle the waiting failure or claim. */
  public async handleDelayed(message: DelayedRetryMessage): Promise<Result> {
    const { failure } = message;
    const now = this.deps.clock();
    // Only our role may send here, but a body we did not write gets no retry and no re-chaining.
    if (message.dueAt.getTime() > now.getTime() + MAX_DUE_AHEAD_SECONDS * 1000) {
      throw new InvalidInputError(`delay-queue message is due ${message.dueAt.toISOString()}, later than any policy can ask`);
    }
    if (failure.failedAt.getTime() > now.getTime() + CLOCK_SKEW_SECONDS * 1000) {
      throw new InvalidInputError(`delay-queue message.failure.failedAt ${failure.failedAt.toISOString()} lies in the future`);
    }
    const remaining = Math.ceil((message.dueAt.getTime() - now.getTime()) / 1000);
    if (remaining > 0) {
      const chained = await this.chain(message, remaining);
      if (chained) return chained;
    }
    if (message.kind === 'event') {
      const { deferrals, nativeWaitOver, fingerprint, staleChecks, slotWaits } = message;
      return this.handleFailure(failure, { deferrals, nativeWaitOver, fingerprint, staleChecks, slotWaits });
    }
    return this.handleDueClaim(message.failure, now, message.token);
  }

  /**
   * A message that is not due yet goes round the queue again (a wait longer than SQS's 900 s is
   * a chain of hops), but only while the ledger holds what it waits for: a claim message for its
   * claim with its token, a failure waiting for slots while claims are still open. A claim message
   * the ledger knows nothing of is not ours to keep: it is left for the DLQ, with the reason.
   * Returns undefined when the message should be handled now instead.
   */
  private async chain(message: DelayedRetryMessage, remaining: number): Promise<Result | undefined> {
    let checked: Result | 'chain' | undefined;
    try {
      checked = await this.checkBeforeChaining(message);
    } catch (error) {
      // The ledger cannot be read now (throttled, a fault): the message keeps going round rather
      // than wear out its receives on the way to the DLQ; the next hop looks again.
      if (!(error instanceof TransientFaultError)) throw error;
      checked = 'chain';
    }
    if (checked !== 'chain') return checked;
    await this.deps.delays.send(message, remaining);
    return this.reporter.decision(message.failure, undefined, Outcome.Waiting, `due at ${message.dueAt.toISOString()}, ${remaining}s left`);
  }

  /** What the ledger says of a message that is not due yet: chain it, handle it now (undefined), or drop it (a result). */
  private async checkBeforeChaining(message: DelayedRetryMessage): Promise<Result | 'chain' | undefined> {
    const { failure } = message;
    if (message.kind === 'event') {
      if (message.slotWaits !== undefined) {
        const { open } = await this.deps.ledger.view(keyOf(failure), failure.occurrence ?? 0);
        // The claims it waited for have ended: the failure's turn is now.
        if (open.length === 0) return undefined;
      }
    } else {
      const claim = await this.deps.ledger.get(keyOf(failure), message.failure.occurrence);
      if (!claim) {
        throw new InvalidInputError(
          `delay-queue message for a claim the ledger does not hold (no claim for ${failure.pipeline}/${failure.stage} ` +
            `execution ${failure.executionId} occurrence ${message.failure.occurrence}): not chained, left for the DLQ`,
        );
      }
      if (!isOpen(claim) || (message.token !== undefined && claim.token !== message.token)) {
        return this.duplicate(message.failure, claim, `the claim moved on (${claim.status}) since this message was sent: not chained`);
      }
    }
    return 'chain';
  }

  /** A claimed retry's time has come: take the claim, re-check, re-evaluate the policy, retry. */
  private async handleDueClaim(failure: StageFailure, now: Date, messageToken: string | undefined): Promise<Result> {
    const { ledger } = this.deps;
    // The message knows the claim's token: take it in one write that returns the record.
    if (messageToken) {
      const token = this.deps.newToken();
      const leaseUntil = this.claims.lease(now);
      const taken = await ledger.takeDue(keyOf(failure), failure.occurrence, messageToken, token, leaseUntil, now);
      if (taken?.claim) {
        const held = {
          ...taken.claim,
          token,
          status: ClaimStatus.Retrying,
          leaseUntil: leaseUntil.toISOString(),
          heldSince: now.toISOString(),
        };
        // Taken from a holder whose lease ran out, it may have called; when the answer to our write
        // was lost that cannot be known, and it is treated as such.
        return this.retryHeld(failure, held, taken.snapshot, taken.wasRetrying ?? true, now);
      }
    }
    // No token (an older message), or the claim moved on since it was sent: read it and see.
    const { snapshot, claim } = await ledger.view(keyOf(failure), failure.occurrence);
    if (!claim) {
      return this.reporter.decision(failure, undefined, Outcome.Skipped, `${SkipReason.NoClaim}: no claim in the ledger for this message`, {
        level: 'warn',
        code: SkipReason.NoClaim,
      });
    }
    if (TERMINAL_STATUSES.includes(claim.status)) return this.duplicate(failure, claim, `claim is already ${claim.status}`);
    if (claim.status === ClaimStatus.Scheduled && Date.parse(claim.dueAt) > now.getTime()) {
      // The claim was rescheduled after this message was sent; a newer message carries it.
      return this.duplicate(failure, claim, `rescheduled to ${claim.dueAt}`);
    }
    if (claim.status === ClaimStatus.Retrying && !isStale(claim, now)) return this.claims.deferCheck(failure, claim, now);

    const held = await this.claims.acquire(failure, claim, now);
    if (!held) return this.duplicate(failure, claim, 'another instance took the claim');
    return this.retryHeld(failure, held, snapshot, claim.status === ClaimStatus.Retrying, now);
  }

  /** We hold a claim that came due: re-check, re-evaluate the policy as it is now, retry. */
  private async retryHeld(failure: StageFailure, held: Claim, snapshot: LedgerSnapshot, takeover: boolean, now: Date): Promise<Result> {
    const { pipelines, policies } = this.deps;
    let lookup: Awaited<ReturnType<typeof pipelines.getStage>>;
    let context: Awaited<ReturnType<typeof policies.load>>;
    try {
      [lookup, context] = await Promise.all([pipelines.getStage(keyOf(failure)), policies.load(failure, failure.stage)]);
    } catch (error) {
      if (error instanceof ThrottledError) return this.claims.throttledRead(failure, takeover ? { ...held, uncertain: true } : held, error);
      throw error;
    }
    return this.judgeHeld(failure, held, snapshot, takeover, lookup.kind === 'found' ? lookup.view : undefined, context, now);
  }

  /**
   * We hold the claim and have read the stage and the policies: a pause or observe mode set
   * meanwhile ends it; otherwise the whole policy is evaluated again and the retry made or not.
   */
  private judgeHeld(
    failure: StageFailure,
    held: Claim,
    snapshot: LedgerSnapshot,
    takeover: boolean,
    view: StageView | undefined,
    context: PolicyContext,
    now: Date,
  ): Promise<Result> {
    const resolved = resolvePolicy(context.layers);
    const keep = { keepSlot: takeover || held.uncertain, policy: resolved.policy };
    if (context.paused) return this.claims.abandon(failure, held, SkipReason.Paused, 'paused while the retry waited', keep);
    if (resolved.policy.mode === PolicyMode.Observe) {
      return this.claims.abandon(failure, held, SkipReason.ObserveOnly, 'the policy was switched to observe while the retry waited', keep);
    }
    // The whole policy again, as it is now: a lower maxRetries, a new rule or a longer cooldown
    // set during the wait applies to this retry. The wait is judged at its shortest (no jitter).
    const decision: Decision | undefined = view
      ? decide(
          failure,
          view,
          resolved,
          {
            paused: false,
            ledger: { retries: held.attempt - 1, firstFailureAt: snapshot.firstFailureAt },
            random: () => 0,
            nativeWaitOver: true,
            ...(this.deps.match ? { match: this.deps.match } : {}),
          },
          now,
        )
      : undefined;
    return this.claims.retry(failure, held, view, resolved.policy, decision, takeover);
  }

  /** A stage SUCCEEDED: if our retries got it there, record the recovery (once) and count it. */
  public async handleSuccess(failure: ReportedFailure): Promise<Result | undefined> {
    const refused = this.refuse(failure);
    if (refused) return refused;
    const now = this.deps.clock();
    const retries = await this.deps.ledger.recordRecovery(keyOf(failure), now);
    if (retries === undefined) return undefined;
    return this.reporter.decision(
      failure,
      retries,
      Outcome.Recovered,
      `stage succeeded after ${retries} automatic ${retries === 1 ? 'retry' : 'retries'}`,
    );
  }

  /** An event from outside the deployment's accounts and regions: logged and counted, never read or written. */
  private refuse(reported: ReportedFailure): Result | undefined {
    const why = notServed(this.deps.settings.membership, reported);
    if (why === undefined) return undefined;
    return this.reporter.decision(reported, undefined, Outcome.Skipped, `${SkipReason.NotAMember}: ${why}`, {
      code: SkipReason.NotAMember,
      level: 'warn',
    });
  }

  private async handleExistingClaim(found: ExistingClaim): Promise<Result> {
    const { reported, failure, claim, view, now, context, snapshot, options } = found;
    if (TERMINAL_STATUSES.includes(claim.status)) {
      // An event without an attempt number is named by the failed actions the read shows: a read
      // that still shows the failure our retry re-ran names that retried occurrence. Read again.
      const named = reported.occurrence === undefined && claim.status === ClaimStatus.Retried && view !== undefined;
      if (named && failureFingerprint(view) === claim.fingerprint && (options.staleChecks ?? 0) < this.deps.settings.maxStaleChecks) {
        const detail = 'the live state still shows the failure this occurrence’s retry re-ran';
        return this.recheck(reported, failure, SkipReason.StateLagsBehind, detail, options, now, view);
      }
      return this.duplicate(failure, claim, `this failure was already handled (${claim.status})`);
    }
    if (isStale(claim, now)) {
      // The holder died (or its delay message was lost): take over; the policy as it is now (a
      // pause, observe mode) and the live state say what comes of it.
      const held = await this.claims.acquire(failure, claim, now);
      if (held) return this.judgeHeld(failure, held, snapshot, claim.status === ClaimStatus.Retrying, view, context, now);
      return this.duplicate(failure, claim, 'another instance took the claim');
    }
    if (claim.status === ClaimStatus.Scheduled) return this.claims.resend(failure, claim, now);
    return this.claims.deferCheck(failure, claim, now);
  }

  /**
   * The live state lagged behind the failure event: read it again through the delay queue, a few
   * times with growing waits. If it never shows the failure, the failure is dropped, and the drop
   * recorded with its reason (so `autoretry history` shows it).
   */
  private async recheck(
    reported: ReportedFailure,
    failure: StageFailure,
    reason: SkipReason,
    detail: string,
    options: FailureOptions,
    now: Date,
    view: StageView,
  ): Promise<Result> {
    const checks = (options.staleChecks ?? 0) + 1;
    if (checks > this.deps.settings.maxStaleChecks) {
      const why = `${detail}: still so after ${checks - 1} more reads, the live state never showed the failure`;
      return this.claims.skip(failure, reason, why, now, view);
    }
    const delay = this.deps.settings.staleRecheckSeconds * 2 ** (checks - 1);
    const dueAt = await this.sendBack(reported, options, { staleChecks: checks }, delay, now);
    const why = `${reason}: ${detail}, but the read lags behind the failure event; reading it again at ${dueAt.toISOString()}`;
    return this.reporter.decision(failure, undefined, Outcome.Deferred, why);
  }

  /**
   * Every slot of the stage execution is taken, but some by claims that have not ended: one of
   * them may give its slot back (abandoned: the stage changed, a refusal), and then this failure
   * is retried after all. It waits until the last of them is due (or its lease ends), waking any
   * whose holder died, and looks again, for up to maxSlotWaitSeconds after the failure; "retries
   * exhausted" is sent only when it is true.
   */
  private async waitForSlots(
    reported: ReportedFailure,
    failure: StageFailure,
    open: readonly Claim[],
    detail: string,
    options: FailureOptions,
    now: Date,
    view: StageView | undefined,
  ): Promise<Result> {
    const { settings } = this.deps;
    const waits = (options.slotWaits ?? 0) + 1;
    const pending = `${open.length} earlier claim(s) of this stage execution had not ended`;
    // Every open claim ends within bounded time (its own limits, the reconciler), so the wait is
    // bounded by time, not by a count that a throttled claim's short reschedules could use up.
    if (now.getTime() - failure.failedAt.getTime() > settings.maxSlotWaitSeconds * 1000) {
      const waited = Math.round((now.getTime() - failure.failedAt.getTime()) / 1000);
      return this.claims.skip(failure, SkipReason.MaxRetries, `${detail}; ${pending} ${waited}s after the failure`, now, view, {
        notify: false,
      });
    }
    // A claim past its lease has a dead holder (or a lost message): wake it now rather than wait for the reconciler.
    for (const claim of open.filter((c) => isStale(c, now))) {
      const its = { ...failure, occurrence: claim.occurrence, ...(claim.eventId ? { eventId: claim.eventId } : {}) };
      await this.reconciler.wake(keyOf(failure), { ...its, failedAt: new Date(claim.failedAt ?? claim.claimedAt) }, claim, now);
    }
    const settleAt = Math.max(...open.map((c) => Date.parse(c.status === ClaimStatus.Scheduled ? c.dueAt : c.leaseUntil)));
    // Until the last of them is due (or its lease ends), and never sooner than a wait that doubles.
    const floor = Math.min(MAX_SLOT_WAIT_STEP_SECONDS, settings.slotWaitMarginSeconds * 2 ** (waits - 1));
    const delay = Math.max(floor, Math.ceil((settleAt - now.getTime()) / 1000) + settings.slotWaitMarginSeconds);
    const dueAt = await this.sendBack(reported, options, { slotWaits: waits }, delay, now);
    const why = `${SkipReason.MaxRetries} for now: ${detail}, but ${pending} and may give a slot back; looking again at ${dueAt.toISOString()}`;
    return this.reporter.decision(failure, undefined, Outcome.Deferred, why);
  }

  /** Sends a failure back through the delay queue to be handled again in `delay` seconds, with its counters. */
  private async sendBack(
    reported: ReportedFailure,
    options: FailureOptions,
    counters: Pick<FailureOptions, 'deferrals' | 'staleChecks' | 'slotWaits'>,
    delay: number,
    now: Date,
  ): Promise<Date> {
    const dueAt = addSeconds(now, delay);
    const waiting = { ...reported, failedAt: saneFailureTime(reported.failedAt, now) };
    await this.deps.delays.send({ v: 1, kind: 'event', failure: waiting, dueAt, ...carry(options), ...counters }, delay);
    return dueAt;
  }

  /**
   * The stage's own onFailure retry goes first, but only for so long: its conditions may keep it
   * from ever running. The failure comes back after the wait, and the policy applies then unless
   * the stage moved on (the failed actions changed, or it runs again).
   */
  private async waitForNativeRetry(failure: StageFailure, view: StageView, detail: string, now: Date): Promise<Result> {
    const wait = this.deps.settings.nativeRetryWaitSeconds;
    const dueAt = addSeconds(now, wait);
    await this.deps.delays.send({ v: 1, kind: 'event', failure, dueAt, nativeWaitOver: true, fingerprint: failureFingerprint(view) }, wait);
    return this.claims.skip(
      failure,
      SkipReason.NativeRetryPending,
      `${detail}; the policy applies if it has not run by ${dueAt.toISOString()}`,
      now,
      view,
    );
  }

  /**
   * CodePipeline throttled us (or our pacing held back) before anything was claimed: the failure
   * waits in the delay queue, longer each time and spread by jitter, and comes back. Lambda's
   * retries stay for real faults. After too many waits we give up and say so.
   */
  private async deferEvent(reported: ReportedFailure, options: FailureOptions, error: ThrottledError): Promise<Result> {
    const now = this.deps.clock();
    const deferrals = (options.deferrals ?? 0) + 1;
    const failure = { ...reported, occurrence: reported.occurrence ?? FALLBACK_OCCURRENCE_BASE };
    this.reporter.throttled(failure);
    if (deferrals > this.deps.settings.maxThrottleDeferrals) {
      return this.claims.skip(failure, SkipReason.ThrottledTooLong, `${error.message} (${deferrals - 1} waits)`, now);
    }
    const delay = throttleDelaySeconds(deferrals - 1, this.deps.settings, this.deps.random);
    const dueAt = await this.sendBack(reported, options, { deferrals }, delay, now);
    return this.reporter.decision(
      failure,
      undefined,
      Outcome.Deferred,
      `throttled: ${error.message}; trying again at ${dueAt.toISOString()}`,
    );
  }

  private duplicate(failure: StageFailure, claim: Claim, detail: string): Result {
    return this.reporter.decision(failure, claim.attempt, Outcome.Skipped, `${SkipReason.Duplicate}: ${detail}`, {
      code: SkipReason.Duplicate,
    });
  }
}

/** The options a failure sent back through the queue keeps, as a message carries them (unset ones left out). */
function carry(options: FailureOptions): FailureOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined && v !== false)) as FailureOptions;
}

/** Policies whose decision depends on the stage execution's history in the ledger. */
function needsLedgerHistory(policy: RetryPolicy): boolean {
  return policy.backoff !== 1 || policy.maxRetryWindowSeconds !== undefined || policy.countManualRetries;
}
