// Over 300 lines: the failure path and the delay-queue path share their steps (judgeHeld,
// handleExistingClaim, the waits) over one Delivery; moving the delay-queue path (handleDelayed,
// chain, handleDueClaim, retryHeld) into a class of its own is the next cut, not made yet.
import { InvalidInputError } from '../../policy/errors';
import { MAX_COOLDOWN_SECONDS, PolicyMode, type ResolvedPolicy, type RetryPolicy, resolvePolicy, SPREAD_SHARE } from '../../policy/policy';
import { type Decision, decide, type LedgerSnapshot } from '../domain/decision';
import { ThrottledError, TransientFaultError } from '../domain/errors';
import type { DelayedRetryMessage } from '../domain/events';
import { type Claim, ClaimStatus, isOpen, isStale, TERMINAL_STATUSES } from '../domain/ledger';
import { notServed } from '../domain/membership';
import { Outcome, SkipReason } from '../domain/reasons';
import { stageRefOf } from '../domain/refs';
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
import type { LedgerView, PolicyContext, StageLookup } from '../ports';
import { ClaimHandler, throttleDelaySeconds } from './claim-handler';
import { Delivery, type FailureOptions } from './delivery';
import { Reconciler } from './reconciler';
import { Reporter } from './reporter';
import { addSeconds, type Result, type ServiceDeps } from './service-settings';

/** The latest a message we sent can be due: the longest cooldown, spread by jitter, and an hour's grace. */
const MAX_DUE_AHEAD_SECONDS = MAX_COOLDOWN_SECONDS * (1 + SPREAD_SHARE) + 3600;

/** What a delivery read before deciding: the policies, the live stage, and the ledger record when the policy needs its history. */
interface FailureRead {
  readonly context: PolicyContext;
  readonly resolved: ResolvedPolicy;
  /** The policy's decision depends on the stage execution's history in the ledger. */
  readonly history: boolean;
  readonly lookup: StageLookup;
  readonly view: StageView | undefined;
  readonly early: LedgerView | undefined;
}

/** A delivery whose failure already has a claim, with what the delivery read. */
interface ExistingClaim {
  readonly claim: Claim;
  readonly view: StageView | undefined;
  readonly context: PolicyContext;
  readonly snapshot: LedgerSnapshot;
}

/** The longest of the growing waits between two looks at slots held by open claims. */
const MAX_SLOT_WAIT_STEP_SECONDS = 900;

/** Skip reasons that say the failure has moved on: the stage runs again, succeeded, or a newer execution owns it. */
const MOVED_ON: readonly SkipReason[] = [SkipReason.StageInProgress, SkipReason.StageNotFailed, SkipReason.Superseded];

export type { FailureOptions } from './delivery';

/**
 * Orchestrates one failure: re-check the live state, decide, claim in the ledger, then retry now
 * or hand the claim to the delay queue. Throttling never spends Lambda's retries: the work waits
 * in the delay queue and comes back. Other faults (DynamoDB, SQS) escape as TransientFaultError
 * so the event is kept by Lambda's retry.
 */
export class RetryService {
  private readonly reporter: Reporter;
  private readonly reconciler: Reconciler;

  public constructor(private readonly deps: ServiceDeps) {
    this.reporter = new Reporter(deps);
    this.reconciler = new Reconciler(deps, this.reporter);
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

  /** One failure, in four steps: read, name the occurrence, decide, act. */
  private async decideFailure(reported: ReportedFailure, options: FailureOptions): Promise<Result> {
    const read = await this.readFailure(reported);
    const d = this.nameOccurrence(reported, options, read);
    if (read.lookup.kind === 'no-pipeline') {
      return new ClaimHandler(this.deps, d).skip(SkipReason.PipelineNotFound, `pipeline ${d.failure.pipeline} does not exist`);
    }
    const recorded = await this.readRecord(d, read);
    const settled = this.settledBefore(d, read, recorded);
    if (settled) return settled;
    const snapshot = recorded?.snapshot ?? { retries: 0, firstFailureAt: undefined };
    const decision = this.decideNow(d, read, snapshot);
    if (decision.kind === 'skip') return this.skipDecided(d, decision, read.view, recorded);
    if (read.resolved.policy.mode === PolicyMode.Observe) return this.observe(d, decision);
    return this.claimAndAct(d, read, decision, recorded, snapshot);
  }

  /**
   * Policies first (cached on a warm instance), then the live state and, only when the policy
   * needs its history (backoff, retry window, counting others' retries), the ledger record.
   * Otherwise the conditional claim alone settles duplicates and limits: one call fewer.
   */
  private async readFailure(reported: ReportedFailure): Promise<FailureRead> {
    const { pipelines, policies, ledger } = this.deps;
    const context = await policies.load(reported, reported.stage);
    const resolved = resolvePolicy(context.layers);
    const history = needsLedgerHistory(resolved.policy);
    const [lookup, early] = await Promise.all([
      pipelines.getStage(stageRefOf(reported)),
      history && reported.occurrence !== undefined ? ledger.view(stageRefOf(reported), reported.occurrence) : Promise.resolve(undefined),
    ]);
    return { context, resolved, history, lookup, view: lookup.kind === 'found' ? lookup.view : undefined, early };
  }

  /** The failure occurrence the delivery is about, named: an event without an attempt number is named by its failed actions. */
  private nameOccurrence(reported: ReportedFailure, options: FailureOptions, read: FailureRead): Delivery {
    const now = this.deps.clock();
    for (const problem of read.context.problems) this.deps.logger.log('warn', 'ignoring invalid policy field', { problem });
    const failedAt = saneFailureTime(reported.failedAt, now);
    if (failedAt !== reported.failedAt) {
      this.deps.logger.log('warn', 'event time lies ahead of our clock: taken as now', {
        eventId: reported.eventId,
        time: reported.failedAt.toISOString(),
      });
    }
    const { view } = read;
    const failure: StageFailure = {
      ...reported,
      failedAt,
      occurrence: reported.occurrence ?? (view ? fallbackOccurrence(view) : FALLBACK_OCCURRENCE_BASE),
    };
    return new Delivery(this.deps, this.reporter, failure, now, { reported, options });
  }

  /**
   * The ledger record, when the read did not bring it and it matters: the policy needs its
   * history, or a later failure of the execution reads as failed, and the ledger says whether
   * that failure is one our earlier retry already re-ran (the read then lags behind).
   */
  private async readRecord(d: Delivery, read: FailureRead): Promise<LedgerView | undefined> {
    const { occurrence } = d.failure;
    const repeat = read.view?.status === StageStatus.Failed && occurrence > 1 && occurrence < FALLBACK_OCCURRENCE_BASE;
    return read.early ?? (read.history || repeat ? await d.view() : undefined);
  }

  /** What settles the delivery before any decision: a claim it already has, a read that lags behind, a stage that moved on while it waited. */
  private settledBefore(d: Delivery, read: FailureRead, recorded: LedgerView | undefined): Promise<Result> | undefined {
    const { view, context } = read;
    // This failure already has a claim: a duplicate delivery, or a takeover after a crash.
    if (recorded?.claim) return this.handleExistingClaim(d, { claim: recorded.claim, snapshot: recorded.snapshot, view, context });
    if (view && recorded && lagsBehind(d.failure, view, recorded.retriedFingerprints)) {
      const detail = 'the live state still shows the failure an earlier retry of ours re-ran';
      return this.recheck(d, SkipReason.StateLagsBehind, detail, view);
    }
    if (d.options.fingerprint !== undefined && view && failureFingerprint(view) !== d.options.fingerprint) {
      return new ClaimHandler(this.deps, d).skip(SkipReason.StageChanged, 'the failed actions changed while this failure waited', { view });
    }
    return undefined;
  }

  /** The pure decision, on what was read. */
  private decideNow(d: Delivery, read: FailureRead, snapshot: LedgerSnapshot): Decision {
    return decide(
      d.failure,
      read.view,
      read.resolved,
      {
        paused: read.context.paused,
        ledger: snapshot,
        random: this.deps.random,
        nativeWaitOver: d.options.nativeWaitOver === true,
        match: this.deps.match,
      },
      d.now,
    );
  }

  /** No retry for now: wait for the stage's own retry, read again, wait for slots, or record why not. */
  private skipDecided(
    d: Delivery,
    decision: Extract<Decision, { kind: 'skip' }>,
    view: StageView | undefined,
    recorded: LedgerView | undefined,
  ): Promise<Result> | Result {
    if (decision.reason === SkipReason.NativeRetryPending && view) return this.waitForNativeRetry(d, view, decision.detail);
    if (MOVED_ON.includes(decision.reason)) {
      // The read may lag behind the event (GetPipelineState is eventually consistent): read again later.
      if (view && lagsBehind(d.failure, view)) return this.recheck(d, decision.reason, decision.detail, view);
      // The live state shows the failure already moved on (usually: a duplicate after our retry).
      // Nothing to decide or to settle, so nothing is written: one call, the state read.
      return d.decision(Outcome.Skipped, `${decision.reason}: ${decision.detail}`, { code: decision.reason });
    }
    if (decision.reason === SkipReason.MaxRetries && recorded && recorded.open.length > 0) {
      return this.waitForSlots(d, recorded.open, decision.detail, view);
    }
    return new ClaimHandler(this.deps, d).skip(decision.reason, decision.detail, { view });
  }

  /** Observe mode: what would have been done is recorded, nothing is claimed. */
  private async observe(d: Delivery, decision: Extract<Decision, { kind: 'retry-now' | 'retry-at' }>): Promise<Result> {
    const would = decision.kind === 'retry-now' ? 'now' : `at ${decision.at.toISOString()}`;
    const detail = `would retry ${decision.retryMode} ${would} (${decision.reason})`;
    await d.recordSkip(SkipReason.ObserveOnly, detail);
    return d.decision(Outcome.Observed, `${SkipReason.ObserveOnly}: ${detail}`);
  }

  /** Claims the retry in the ledger, then retries now or hands the claim to the delay queue. */
  private async claimAndAct(
    d: Delivery,
    read: FailureRead,
    decision: Extract<Decision, { kind: 'retry-now' | 'retry-at' }>,
    recorded: LedgerView | undefined,
    snapshot: LedgerSnapshot,
  ): Promise<Result> {
    const { failure, now } = d;
    const { view, context } = read;
    const { policy } = read.resolved;
    const claims = new ClaimHandler(this.deps, d);
    const retryNow = decision.kind === 'retry-now';
    const dueAt = decision.kind === 'retry-at' ? decision.at : now;
    const result = await d.claimSlot({
      occurrence: failure.occurrence,
      status: retryNow ? ClaimStatus.Retrying : ClaimStatus.Scheduled,
      retryMode: decision.retryMode,
      dueAt,
      leaseUntil: retryNow ? claims.lease(now) : addSeconds(dueAt, this.deps.settings.scheduledGraceSeconds),
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
        if (result.open.length > 0) return this.waitForSlots(d, result.open, detail, view);
        return claims.skip(SkipReason.MaxRetries, detail, { view });
      }
      case 'exists':
        return this.handleExistingClaim(d, { claim: result.claim, snapshot, view, context });
      case 'claimed':
        if (retryNow) return claims.retry(result.claim, { view, policy, decision });
        return claims.schedule(result.claim, dueAt, decision);
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
      const chained = await this.chain(message, remaining, now);
      if (chained) return chained;
    }
    if (message.kind === 'event') {
      const { deferrals, nativeWaitOver, fingerprint, staleChecks, slotWaits } = message;
      return this.handleFailure(failure, { deferrals, nativeWaitOver, fingerprint, staleChecks, slotWaits });
    }
    return this.handleDueClaim(new Delivery(this.deps, this.reporter, message.failure, now), message.token);
  }

  /**
   * A message that is not due yet goes round the queue again (a wait longer than SQS's 900 s is
   * a chain of hops), but only while the ledger holds what it waits for: a claim message for its
   * claim with its token, a failure waiting for slots while claims are still open. A claim message
   * the ledger knows nothing of is not ours to keep: it is left for the DLQ, with the reason.
   * Returns undefined when the message should be handled now instead.
   */
  private async chain(message: DelayedRetryMessage, remaining: number, now: Date): Promise<Result | undefined> {
    let checked: Result | 'chain' | undefined;
    try {
      checked = await this.checkBeforeChaining(message, now);
    } catch (error) {
      // The ledger cannot be read now (throttled, a fault): the message keeps going round rather
      // than wear out its receives on the way to the DLQ; the next hop looks again.
      if (!(error instanceof TransientFaultError)) throw error;
      checked = 'chain';
    }
    if (checked !== 'chain') return checked;
    await this.deps.delays.send(message, remaining);
    return this.reporter.decision(message.failure, Outcome.Waiting, `due at ${message.dueAt.toISOString()}, ${remaining}s left`);
  }

  /** What the ledger says of a message that is not due yet: chain it, handle it now (undefined), or drop it (a result). */
  private async checkBeforeChaining(message: DelayedRetryMessage, now: Date): Promise<Result | 'chain' | undefined> {
    const { failure } = message;
    if (message.kind === 'event') {
      if (message.slotWaits !== undefined) {
        const { open } = await this.deps.ledger.view(stageRefOf(failure), failure.occurrence ?? 0);
        // The claims it waited for have ended: the failure's turn is now.
        if (open.length === 0) return undefined;
      }
    } else {
      const d = new Delivery(this.deps, this.reporter, message.failure, now);
      const claim = await d.getClaim();
      if (!claim) {
        throw new InvalidInputError(
          `delay-queue message for a claim the ledger does not hold (no claim for ${failure.pipeline}/${failure.stage} ` +
            `execution ${failure.executionId} occurrence ${message.failure.occurrence}): not chained, left for the DLQ`,
        );
      }
      if (!isOpen(claim) || (message.token !== undefined && claim.token !== message.token)) {
        return d.duplicate(claim, `the claim moved on (${claim.status}) since this message was sent: not chained`);
      }
    }
    return 'chain';
  }

  /** A claimed retry's time has come: take the claim, re-check, re-evaluate the policy, retry. */
  private async handleDueClaim(d: Delivery, messageToken: string | undefined): Promise<Result> {
    const { now } = d;
    const claims = new ClaimHandler(this.deps, d);
    // The message knows the claim's token: take it in one write that returns the record.
    if (messageToken) {
      const token = this.deps.newToken();
      const leaseUntil = claims.lease(now);
      const taken = await d.takeDue(messageToken, token, leaseUntil);
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
        return this.retryHeld(d, held, taken.snapshot, taken.wasRetrying ?? true);
      }
    }
    // No token (an older message), or the claim moved on since it was sent: read it and see.
    const { snapshot, claim } = await d.view();
    if (!claim) {
      return d.decision(Outcome.Skipped, `${SkipReason.NoClaim}: no claim in the ledger for this message`, {
        level: 'warn',
        code: SkipReason.NoClaim,
      });
    }
    if (TERMINAL_STATUSES.includes(claim.status)) return d.duplicate(claim, `claim is already ${claim.status}`);
    if (claim.status === ClaimStatus.Scheduled && Date.parse(claim.dueAt) > now.getTime()) {
      // The claim was rescheduled after this message was sent; a newer message carries it.
      return d.duplicate(claim, `rescheduled to ${claim.dueAt}`);
    }
    if (claim.status === ClaimStatus.Retrying && !isStale(claim, now)) return claims.deferCheck(claim);

    const held = await claims.acquire(claim);
    if (!held) return d.duplicate(claim, 'another instance took the claim');
    return this.retryHeld(d, held, snapshot, claim.status === ClaimStatus.Retrying);
  }

  /** We hold a claim that came due: re-check, re-evaluate the policy as it is now, retry. */
  private async retryHeld(d: Delivery, held: Claim, snapshot: LedgerSnapshot, takeover: boolean): Promise<Result> {
    const { pipelines, policies } = this.deps;
    let lookup: Awaited<ReturnType<typeof pipelines.getStage>>;
    let context: Awaited<ReturnType<typeof policies.load>>;
    try {
      [lookup, context] = await Promise.all([pipelines.getStage(d.ref), policies.load(d.ref, d.ref.stage)]);
    } catch (error) {
      if (error instanceof ThrottledError) {
        return new ClaimHandler(this.deps, d).throttledRead(takeover ? { ...held, uncertain: true } : held, error);
      }
      throw error;
    }
    return this.judgeHeld(d, held, snapshot, takeover, lookup.kind === 'found' ? lookup.view : undefined, context);
  }

  /**
   * We hold the claim and have read the stage and the policies: a pause or observe mode set
   * meanwhile ends it; otherwise the whole policy is evaluated again and the retry made or not.
   */
  private judgeHeld(
    d: Delivery,
    held: Claim,
    snapshot: LedgerSnapshot,
    takeover: boolean,
    view: StageView | undefined,
    context: PolicyContext,
  ): Promise<Result> {
    const { failure, now } = d;
    const claims = new ClaimHandler(this.deps, d);
    const resolved = resolvePolicy(context.layers);
    const keep = { keepSlot: takeover || held.uncertain, policy: resolved.policy };
    if (context.paused) return claims.abandon(held, SkipReason.Paused, 'paused while the retry waited', keep);
    if (resolved.policy.mode === PolicyMode.Observe) {
      return claims.abandon(held, SkipReason.ObserveOnly, 'the policy was switched to observe while the retry waited', keep);
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
            match: this.deps.match,
          },
          now,
        )
      : undefined;
    return claims.retry(held, { view, policy: resolved.policy, decision, takeover });
  }

  /** A stage SUCCEEDED: if our retries got it there, record the recovery (once) and count it. */
  public async handleSuccess(failure: ReportedFailure): Promise<Result | undefined> {
    const refused = this.refuse(failure);
    if (refused) return refused;
    const now = this.deps.clock();
    const retries = await this.deps.ledger.recordRecovery(stageRefOf(failure), now);
    if (retries === undefined) return undefined;
    return this.reporter.decision(
      failure,
      Outcome.Recovered,
      `stage succeeded after ${retries} automatic ${retries === 1 ? 'retry' : 'retries'}`,
      {
        attempt: retries,
      },
    );
  }

  /** An event from outside the deployment's accounts and regions: logged and counted, never read or written. */
  private refuse(reported: ReportedFailure): Result | undefined {
    const why = notServed(this.deps.settings.membership, reported);
    if (why === undefined) return undefined;
    return this.reporter.decision(reported, Outcome.Skipped, `${SkipReason.NotAMember}: ${why}`, {
      code: SkipReason.NotAMember,
      level: 'warn',
    });
  }

  private async handleExistingClaim(d: Delivery, found: ExistingClaim): Promise<Result> {
    const { claim, view, context, snapshot } = found;
    const { reported, options, now } = d;
    const claims = new ClaimHandler(this.deps, d);
    if (TERMINAL_STATUSES.includes(claim.status)) {
      // An event without an attempt number is named by the failed actions the read shows: a read
      // that still shows the failure our retry re-ran names that retried occurrence. Read again.
      const named = reported.occurrence === undefined && claim.status === ClaimStatus.Retried && view !== undefined;
      if (named && failureFingerprint(view) === claim.fingerprint && (options.staleChecks ?? 0) < this.deps.settings.maxStaleChecks) {
        const detail = 'the live state still shows the failure this occurrence’s retry re-ran';
        return this.recheck(d, SkipReason.StateLagsBehind, detail, view);
      }
      return d.duplicate(claim, `this failure was already handled (${claim.status})`);
    }
    if (isStale(claim, now)) {
      // The holder died (or its delay message was lost): take over; the policy as it is now (a
      // pause, observe mode) and the live state say what comes of it.
      const held = await claims.acquire(claim);
      if (held) return this.judgeHeld(d, held, snapshot, claim.status === ClaimStatus.Retrying, view, context);
      return d.duplicate(claim, 'another instance took the claim');
    }
    if (claim.status === ClaimStatus.Scheduled) return claims.resend(claim);
    return claims.deferCheck(claim);
  }

  /**
   * The live state lagged behind the failure event: read it again through the delay queue, a few
   * times with growing waits. If it never shows the failure, the failure is dropped, and the drop
   * recorded with its reason (so `autoretry history` shows it).
   */
  private async recheck(d: Delivery, reason: SkipReason, detail: string, view: StageView): Promise<Result> {
    const checks = (d.options.staleChecks ?? 0) + 1;
    if (checks > this.deps.settings.maxStaleChecks) {
      const why = `${detail}: still so after ${checks - 1} more reads, the live state never showed the failure`;
      return new ClaimHandler(this.deps, d).skip(reason, why, { view });
    }
    const delay = this.deps.settings.staleRecheckSeconds * 2 ** (checks - 1);
    const dueAt = await this.sendBack(d, { staleChecks: checks }, delay);
    const why = `${reason}: ${detail}, but the read lags behind the failure event; reading it again at ${dueAt.toISOString()}`;
    return d.decision(Outcome.Deferred, why);
  }

  /**
   * Every slot of the stage execution is taken, but some by claims that have not ended: one of
   * them may give its slot back (abandoned: the stage changed, a refusal), and then this failure
   * is retried after all. It waits until the last of them is due (or its lease ends), waking any
   * whose holder died, and looks again, for up to maxSlotWaitSeconds after the failure; "retries
   * exhausted" is sent only when it is true.
   */
  private async waitForSlots(d: Delivery, open: readonly Claim[], detail: string, view: StageView | undefined): Promise<Result> {
    const { settings } = this.deps;
    const { failure, now } = d;
    const waits = (d.options.slotWaits ?? 0) + 1;
    const pending = `${open.length} earlier claim(s) of this stage execution had not ended`;
    // Every open claim ends within bounded time (its own limits, the reconciler), so the wait is
    // bounded by time, not by a count that a throttled claim's short reschedules could use up.
    if (now.getTime() - failure.failedAt.getTime() > settings.maxSlotWaitSeconds * 1000) {
      const waited = Math.round((now.getTime() - failure.failedAt.getTime()) / 1000);
      return new ClaimHandler(this.deps, d).skip(SkipReason.MaxRetries, `${detail}; ${pending} ${waited}s after the failure`, {
        view,
        notify: false,
      });
    }
    // A claim past its lease has a dead holder (or a lost message): wake it now rather than wait for the reconciler.
    for (const claim of open.filter((c) => isStale(c, now))) await this.reconciler.wake(d.forClaim(claim), claim);
    const settleAt = Math.max(...open.map((c) => Date.parse(c.status === ClaimStatus.Scheduled ? c.dueAt : c.leaseUntil)));
    // Until the last of them is due (or its lease ends), and never sooner than a wait that doubles.
    const floor = Math.min(MAX_SLOT_WAIT_STEP_SECONDS, settings.slotWaitMarginSeconds * 2 ** (waits - 1));
    const delay = Math.max(floor, Math.ceil((settleAt - now.getTime()) / 1000) + settings.slotWaitMarginSeconds);
    const dueAt = await this.sendBack(d, { slotWaits: waits }, delay);
    const why = `${SkipReason.MaxRetries} for now: ${detail}, but ${pending} and may give a slot back; looking again at ${dueAt.toISOString()}`;
    return d.decision(Outcome.Deferred, why);
  }

  /** Sends a failure back through the delay queue to be handled again in `delay` seconds, with its counters. */
  private async sendBack(
    d: Delivery,
    counters: Pick<FailureOptions, 'deferrals' | 'staleChecks' | 'slotWaits'>,
    delay: number,
  ): Promise<Date> {
    const { reported, now } = d;
    const dueAt = addSeconds(now, delay);
    const waiting = { ...reported, failedAt: saneFailureTime(reported.failedAt, now) };
    await this.deps.delays.send({ v: 1, kind: 'event', failure: waiting, dueAt, ...carry(d.options), ...counters }, delay);
    return dueAt;
  }

  /**
   * The stage's own onFailure retry goes first, but only for so long: its conditions may keep it
   * from ever running. The failure comes back after the wait, and the policy applies then unless
   * the stage moved on (the failed actions changed, or it runs again).
   */
  private async waitForNativeRetry(d: Delivery, view: StageView, detail: string): Promise<Result> {
    const { failure } = d;
    const wait = this.deps.settings.nativeRetryWaitSeconds;
    const dueAt = addSeconds(d.now, wait);
    await this.deps.delays.send({ v: 1, kind: 'event', failure, dueAt, nativeWaitOver: true, fingerprint: failureFingerprint(view) }, wait);
    return new ClaimHandler(this.deps, d).skip(
      SkipReason.NativeRetryPending,
      `${detail}; the policy applies if it has not run by ${dueAt.toISOString()}`,
      { view },
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
    const d = new Delivery(this.deps, this.reporter, failure, now, { reported, options });
    d.throttled();
    if (deferrals > this.deps.settings.maxThrottleDeferrals) {
      return new ClaimHandler(this.deps, d).skip(SkipReason.ThrottledTooLong, `${error.message} (${deferrals - 1} waits)`);
    }
    const delay = throttleDelaySeconds(deferrals - 1, this.deps.settings, this.deps.random);
    const dueAt = await this.sendBack(d, { deferrals }, delay);
    return d.decision(Outcome.Deferred, `throttled: ${error.message}; trying again at ${dueAt.toISOString()}`);
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
