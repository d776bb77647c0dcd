import type { Claim, ClaimResult, FailureRecord, NewClaim } from '../domain/ledger';
import { Outcome, SkipReason } from '../domain/reasons';
import { type StageRef, stageRefOf } from '../domain/refs';
import type { ReportedFailure, StageFailure, StageView } from '../domain/types';
import type { ClaimFinish, LedgerView, RescheduleWhy, SkipRecord } from '../ports';
import type { Reporter, ReportOptions } from './reporter';
import type { Result, ServiceDeps } from './service-settings';

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

/** What a delivery carries besides the failure it names. */
export interface DeliveryPayload {
  /** The failure as its event (or message) reported it: its attempt number may be missing. @default the failure */
  readonly reported?: ReportedFailure;
  /** How it came back from the delay queue. @default none: a first delivery */
  readonly options?: FailureOptions;
  /** Why it failed, as its claim or skip records it. @default not classified */
  readonly failure?: FailureRecord;
}

/**
 * One failure occurrence being handled, made once per delivery (as Powertools' IdempotencyHandler
 * holds its payload): the failure as reported and as named, the stage execution it names (which
 * is also its ledger record's key), when its handling began, and the ledger, delay-queue and
 * reporter calls bound to it, so that no step passes the failure or its key along again.
 */
export class Delivery {
  /** The stage execution: what CodePipeline is asked about, and the ledger record's key. */
  public readonly ref: StageRef;
  public readonly reported: ReportedFailure;
  public readonly options: FailureOptions;
  /** Why the failure occurred, when its actions were classified: written with its claim or skip. */
  public readonly why: FailureRecord;

  public constructor(
    private readonly deps: ServiceDeps,
    private readonly reporter: Reporter,
    /** The failure occurrence, named (its occurrence number known). */
    public readonly failure: StageFailure,
    /** When its handling began: what its records are stamped with and its leases counted from. */
    public readonly now: Date,
    payload: DeliveryPayload = {},
  ) {
    this.ref = stageRefOf(failure);
    this.reported = payload.reported ?? failure;
    this.options = payload.options ?? {};
    this.why = payload.failure ?? {};
  }

  /** The same delivery, knowing why the failure occurred. */
  public because(why: FailureRecord): Delivery {
    return new Delivery(this.deps, this.reporter, this.failure, this.now, { reported: this.reported, options: this.options, failure: why });
  }

  /** The same stage execution's failure occurrence that `claim` is for (its event, when the claim kept it). */
  public forClaim(claim: Claim): Delivery {
    const failure: StageFailure = {
      ...this.failure,
      occurrence: claim.occurrence,
      ...(claim.eventId ? { eventId: claim.eventId } : {}),
      failedAt: new Date(claim.failedAt ?? claim.claimedAt),
    };
    return new Delivery(this.deps, this.reporter, failure, this.now);
  }

  /** What a failure occurrence takes from its pipeline's budget is named after it: taking it twice is a no-op. */
  public get budgetId(): string {
    return `${this.failure.stage}#${this.failure.executionId}#${this.failure.occurrence}`;
  }

  // ---- the ledger record of this failure's stage execution ----------------------------------------

  public view(): Promise<LedgerView> {
    return this.deps.ledger.view(this.ref, this.failure.occurrence);
  }

  public claimSlot(claim: NewClaim): Promise<ClaimResult> {
    return this.deps.ledger.claim(this.ref, { ...claim, ...this.why });
  }

  public getClaim(): Promise<Claim | undefined> {
    return this.deps.ledger.get(this.ref, this.failure.occurrence);
  }

  public acquire(claim: Claim, token: string, leaseUntil: Date): Promise<boolean> {
    return this.deps.ledger.acquire(this.ref, claim, token, leaseUntil, this.now);
  }

  public takeDue(expectedToken: string, token: string, leaseUntil: Date): ReturnType<ServiceDeps['ledger']['takeDue']> {
    return this.deps.ledger.takeDue(this.ref, this.failure.occurrence, expectedToken, token, leaseUntil, this.now);
  }

  public reschedule(claim: Claim, token: string, dueAt: Date, leaseUntil: Date, why: RescheduleWhy): Promise<boolean> {
    return this.deps.ledger.reschedule(this.ref, claim, token, dueAt, leaseUntil, why);
  }

  public makeRecoverable(claim: Claim, now: Date): Promise<boolean> {
    return this.deps.ledger.makeRecoverable(this.ref, claim, now);
  }

  public finish(claim: Claim, finish: ClaimFinish): Promise<boolean> {
    return this.deps.ledger.finish(this.ref, claim, finish);
  }

  public release(claim: Claim): Promise<boolean> {
    return this.deps.ledger.release(this.ref, claim);
  }

  public wake(claim: Claim, token: string, leaseUntil: Date): Promise<boolean> {
    return this.deps.ledger.wake(this.ref, claim, token, this.now, leaseUntil);
  }

  /** Records why this occurrence is not retried, stamped now. */
  public recordSkip(reason: SkipReason, detail: string): Promise<SkipRecord> {
    const { occurrence, failedAt } = this.failure;
    return this.deps.ledger.recordSkip(this.ref, { occurrence, reason, detail, now: this.now, failedAt, ...this.why });
  }

  /** Takes back the skip `id` this delivery wrote for its occurrence. */
  public withdrawSkip(id: string): Promise<void> {
    return this.deps.ledger.withdrawSkip(this.ref, this.failure.occurrence, id);
  }

  // ---- the delay queue ----------------------------------------------------------------------------

  /** Sends this failure's claim message, held by `token`, to come back at `dueAt`. */
  public sendClaim(dueAt: Date, token: string, delaySeconds: number): Promise<void> {
    return this.deps.delays.send({ v: 1, kind: 'claim', failure: this.failure, dueAt, token }, delaySeconds);
  }

  // ---- what it came to ----------------------------------------------------------------------------

  /** One decision log line and its metrics; returns the delivery's result. */
  public decision(outcome: Outcome, reason: string, opts?: ReportOptions): Result {
    return this.reporter.decision(this.failure, outcome, reason, opts);
  }

  public duplicate(claim: Claim, detail: string): Result {
    return this.decision(Outcome.Skipped, `${SkipReason.Duplicate}: ${detail}`, { attempt: claim.attempt, code: SkipReason.Duplicate });
  }

  /** Tells operators, when the reason is one they hear about. */
  public async tellIfNeeded(reason: SkipReason, text: string, view: StageView | undefined): Promise<void> {
    const kind = this.reporter.noticeFor(reason);
    if (kind) await this.reporter.notify(this.failure, { kind, reason: text, view, code: reason });
  }

  public throttled(): void {
    this.reporter.throttled(this.failure);
  }

  public stuck(): void {
    this.reporter.stuck(this.failure);
  }
}
