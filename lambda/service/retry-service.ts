import { PolicyMode } from '../../policy/policy';
import { type Decision, decide, type LedgerSnapshot } from '../domain/decision';
import { ThrottledError } from '../domain/errors';
import type { DelayedRetryMessage } from '../domain/events';
import { ClaimStatus } from '../domain/ledger';
import { notServed } from '../domain/membership';
import { Outcome, SkipReason } from '../domain/reasons';
import { stageRefOf } from '../domain/refs';
import {
  FALLBACK_OCCURRENCE_BASE,
  failureFingerprint,
  fallbackOccurrence,
  lagsBehind,
  type ReportedFailure,
  type StageFailure,
  saneFailureTime,
} from '../domain/types';
import type { LedgerView } from '../ports';
import { ClaimHandler, throttleDelaySeconds } from './claim-handler';
import { DelayedRetries } from './delayed-retries';
import { Delivery, type FailureOptions } from './delivery';
import { failureRecordOfEvidence, type ProviderEvidence, ProviderEvidenceGate } from './evidence';
import { type FailureRead, readFailure, readRecord } from './failure-read';
import { HeldClaims } from './held-claims';
import { Reconciler } from './reconciler';
import { Reporter } from './reporter';
import { addSeconds, type Result, type ServiceDeps } from './service-settings';

/** Skip reasons that say the failure has moved on: the stage runs again, succeeded, or a newer execution owns it. */
const MOVED_ON: readonly SkipReason[] = [SkipReason.StageInProgress, SkipReason.StageNotFailed, SkipReason.Superseded];

export type { FailureOptions } from './delivery';

/**
 * Orchestrates one failure: re-check the live state, decide, claim in the ledger, then retry now
 * or hand the claim to the delay queue. Throttling never spends Lambda's retries: the work waits
 * in the delay queue and comes back. Other faults (DynamoDB, SQS) escape as TransientFaultError
 * so the event is kept by Lambda's retry. The entry the handler calls: the delay-queue path is
 * DelayedRetries', the steps both paths share over a held claim are HeldClaims'.
 */
export class RetryService {
  private readonly reporter: Reporter;
  private readonly reconciler: Reconciler;
  private readonly held: HeldClaims;
  private readonly delayed: DelayedRetries;
  /** Kept for the warm instance: its cache spares a redelivery the provider reads. */
  private readonly classes: ProviderEvidenceGate;

  public constructor(private readonly deps: ServiceDeps) {
    this.reporter = new Reporter(deps);
    this.classes = new ProviderEvidenceGate(deps);
    this.reconciler = new Reconciler(deps, this.reporter);
    this.held = new HeldClaims(deps, this.reconciler, this.classes);
    this.delayed = new DelayedRetries(deps, this.reporter, this.held, (reported, options) => this.handleFailure(reported, options));
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

  /** One failure, in five steps: read, name the occurrence, classify when it matters, decide, act. */
  private async decideFailure(reported: ReportedFailure, options: FailureOptions): Promise<Result> {
    const read = await readFailure(this.deps, reported);
    const named = this.nameOccurrence(reported, options, read);
    if (read.lookup.kind === 'no-pipeline') {
      return new ClaimHandler(this.deps, named).skip(SkipReason.PipelineNotFound, `pipeline ${named.failure.pipeline} does not exist`);
    }
    const recorded = await readRecord(named, read);
    const settled = this.settledBefore(named, read, recorded);
    if (settled) return settled;
    const snapshot = recorded?.snapshot ?? { retries: 0, firstFailureAt: undefined };
    const evidence = await this.evidence(named, read, recorded);
    const d = named.because(failureRecordOfEvidence(evidence));
    const decision = this.decideNow(d, read, snapshot, evidence);
    if (decision.kind === 'skip') return this.skipDecided(d, decision, read, recorded);
    if (read.resolved.policy.mode === PolicyMode.Observe) return this.observe(d, decision);
    return this.claimAndAct(d, read, decision, recorded, snapshot);
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

  /** What settles the delivery before any decision: a claim it already has, a read that lags behind, a stage that moved on while it waited. */
  private settledBefore(d: Delivery, read: FailureRead, recorded: LedgerView | undefined): Promise<Result> | undefined {
    const { view, context } = read;
    // This failure already has a claim: a duplicate delivery, or a takeover after a crash.
    if (recorded?.claim) return this.held.handleExistingClaim(d, { claim: recorded.claim, snapshot: recorded.snapshot, view, context });
    if (view && recorded && lagsBehind(d.failure, view, recorded.retriedFingerprints)) {
      const detail = 'the live state still shows the failure an earlier retry of ours re-ran';
      return this.held.recheck(d, SkipReason.StateLagsBehind, detail, view);
    }
    if (d.options.fingerprint !== undefined && view && failureFingerprint(view) !== d.options.fingerprint) {
      return new ClaimHandler(this.deps, d).skip(SkipReason.StageChanged, 'the failed actions changed while this failure waited', { view });
    }
    return undefined;
  }

  /** What the providers say, when the decision needs it (FailureClasses.forDecision): no provider call otherwise. */
  private evidence(d: Delivery, read: FailureRead, recorded: LedgerView | undefined): Promise<ProviderEvidence> {
    if (!read.view) return Promise.resolve({});
    const { policy } = read.resolved;
    const needs = {
      view: read.view,
      policy,
      retried: recorded?.retriedFingerprints ?? [],
      classifyAll: this.deps.settings.classifyAllFailures,
    };
    return this.classes.forDecision(d.ref, needs);
  }

  /** The pure decision, on what was read. */
  private decideNow(d: Delivery, read: FailureRead, snapshot: LedgerSnapshot, evidence: ProviderEvidence): Decision {
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
        ...evidence,
      },
      d.now,
    );
  }

  /** No retry for now: wait for the stage's own retry, read again, wait for slots, or record why not. */
  private async skipDecided(
    d: Delivery,
    decision: Extract<Decision, { kind: 'skip' }>,
    read: FailureRead,
    recorded: LedgerView | undefined,
  ): Promise<Result> {
    const { view, context } = read;
    if (decision.reason === SkipReason.NativeRetryPending && view) return this.held.waitForNativeRetry(d, view, decision.detail);
    if (MOVED_ON.includes(decision.reason)) {
      // The read may lag behind the event (GetPipelineState is eventually consistent): read again later.
      if (view && lagsBehind(d.failure, view)) return this.held.recheck(d, decision.reason, decision.detail, view);
      // The live state shows the failure already moved on (usually: a duplicate after our retry).
      // Nothing to decide or to settle, so nothing is written: one call, the state read.
      return d.decision(Outcome.Skipped, `${decision.reason}: ${decision.detail}`, { code: decision.reason });
    }
    if (decision.reason === SkipReason.MaxRetries && recorded && recorded.open.length > 0) {
      return this.held.waitForSlots(d, recorded.open, decision.detail, view);
    }
    // A delivery of a failure that already has a claim (Lambda's redelivery after a crash, or a
    // concurrent one) may decide otherwise than the one that claimed it (a provider it cannot
    // read now): the skip write refuses to go beside a claim that stands, which is then handled
    // as the duplicate it is (a scheduled claim's delay message is sent again).
    return new ClaimHandler(this.deps, d).skip(decision.reason, decision.detail, {
      view,
      onClaimed: (claim, snapshot) => this.held.handleExistingClaim(d, { claim, snapshot, view, context }),
    });
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
        if (result.open.length > 0) return this.held.waitForSlots(d, result.open, detail, view);
        return claims.skip(SkipReason.MaxRetries, detail, { view });
      }
      case 'exists':
        return this.held.handleExistingClaim(d, { claim: result.claim, snapshot, view, context });
      case 'claimed':
        if (retryNow) return claims.retry(result.claim, { view, policy, decision });
        return claims.schedule(result.claim, dueAt, decision);
    }
  }

  /** A delay-queue message: chain if not yet due, else handle the waiting failure or claim. */
  public handleDelayed(message: DelayedRetryMessage): Promise<Result> {
    return this.delayed.handleDelayed(message);
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
    const dueAt = await this.held.sendBack(d, { deferrals }, delay);
    return d.decision(Outcome.Deferred, `throttled: ${error.message}; trying again at ${dueAt.toISOString()}`);
  }
}
