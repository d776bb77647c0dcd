import type { Location } from '../../contract';
import type { RetryMode } from '../../policy/policy';
import { clip, MAX_EVIDENCE } from './answer-reading';
import type { TestIdentity } from './provider-answers';
import type { StageRef } from './refs';
import { recordedTest } from './test-identities';

/** The life of one claimed retry attempt in the ledger. */
export const ClaimStatus = {
  /** Waiting for its cooldown in the delay queue. */
  Scheduled: 'scheduled',
  /** An instance holds the lease and is calling RetryStageExecution. */
  Retrying: 'retrying',
  /** RetryStageExecution accepted the retry. */
  Retried: 'retried',
  /** No retry was made after all (stage changed, superseded, not retryable); the slot was given back. */
  Abandoned: 'abandoned',
  /** RetryStageExecution refused for good (not found, validation); the slot was given back. */
  Failed: 'failed',
} as const;
export type ClaimStatus = (typeof ClaimStatus)[keyof typeof ClaimStatus];

export const TERMINAL_STATUSES: readonly ClaimStatus[] = [ClaimStatus.Retried, ClaimStatus.Abandoned, ClaimStatus.Failed];

/** A claim that has not ended: it holds a slot, and something must move it on by its deadline. */
export function isOpen(claim: Pick<Claim, 'status'>): boolean {
  return !TERMINAL_STATUSES.includes(claim.status);
}

/**
 * Names one stage execution as a ledger record does: a StageRef whose account and region may be
 * absent, as they are in records of a single-account deployment's pipelines written before the
 * record kept them, and in the operators' lookups of the central account's own pipelines.
 */
export interface LedgerKey extends Omit<StageRef, 'account' | 'region'>, Partial<Location> {}

/** The most failed tests a claim or skip keeps: a ledger item must stay small. */
export const MAX_RECORDED_TESTS = 20;

/** Why the failure occurrence failed, as a claim or a skip records it (from its failed actions' classifications). */
export interface FailureRecord {
  readonly failureClass?: string;
  readonly evidence?: string;
  /** The failed tests, at most MAX_RECORDED_TESTS. */
  readonly failedTests?: readonly TestIdentity[];
  /**
   * The class of each failed action, by action name (at most MAX_RECORDED_ACTIONS): what a retry
   * that waits judges with again when the provider cannot be read at its due time.
   */
  readonly actionClasses?: Readonly<Record<string, string>>;
}

/** The most failed actions whose class a claim or skip keeps (CodePipeline allows 50 actions in a stage). */
export const MAX_RECORDED_ACTIONS = 50;

/** A test that failed and then passed on our retry: recorded on the stage execution at its recovery. */
export interface FlakyTest extends TestIdentity {
  readonly stage: string;
  /** When the retry that cured it was seen to succeed. */
  readonly at: string;
}

/** One failure occurrence's claim on a retry. */
export interface Claim extends FailureRecord {
  readonly occurrence: number;
  /** 1 for the first automatic retry of the stage execution, and so on. */
  readonly attempt: number;
  readonly status: ClaimStatus;
  readonly retryMode: RetryMode;
  readonly claimedAt: string;
  readonly dueAt: string;
  /** Until then the holder owns the claim; after it, a redelivery may take over. */
  readonly leaseUntil: string;
  /** Changes on every hand-over, so only the current holder can finish the claim. */
  readonly token: string;
  /** Failed action executions when claimed: if they changed, the stage moved on without us. */
  readonly fingerprint: string;
  /** How many times the service said it was busy (Conflict, concurrency limit). */
  readonly busyCount: number;
  /** How many times the call was throttled (by CodePipeline, or held back by our own pacing). */
  readonly throttleCount: number;
  /**
   * One of our RetryStageExecution calls got no clear answer (a 5xx, a timeout, a dropped
   * connection): it may have taken effect, so the slot stays counted and the live state decides.
   */
  readonly uncertain: boolean;
  /** CodePipeline's count of RetryStageExecution calls on this stage execution when the claim was made. */
  readonly manualBefore?: number;
  /** When the current holder took the claim: a call it made cannot have started before. */
  readonly heldSince?: string;
  /**
   * Set once an answer to one of our calls was unclear (or a holder died holding the claim): the
   * earliest time that call can have started. Evidence of a retry is looked for from then on.
   */
  readonly mayHaveCalledSince?: string;
  /** How often the reconciler found the claim past its deadline and woke it. */
  readonly wakeups?: number;
  /** The failure the claim is for, so that the reconciler can wake it without its event. */
  readonly eventId?: string;
  readonly failedAt?: string;
  readonly pipelineVersion?: number;
  readonly outcome?: string;
  readonly reason?: string;
  readonly finishedAt?: string;
  /** Why the failure happened, as the classifier named it (policy/failure-class.ts); absent when it was not classified. */
  readonly failureClass?: string;
  /** One line of what the provider said, for the class. */
  readonly evidence?: string;
  /** For a `test` failure: the failed test cases, when they were read. */
  readonly failedTests?: readonly TestIdentity[];
}

export interface NewClaim extends FailureRecord {
  readonly occurrence: number;
  readonly status: typeof ClaimStatus.Scheduled | typeof ClaimStatus.Retrying;
  readonly retryMode: RetryMode;
  readonly dueAt: Date;
  readonly leaseUntil: Date;
  readonly token: string;
  readonly fingerprint: string;
  readonly maxRetries: number;
  readonly failedAt: Date;
  readonly now: Date;
  /** The counter as last read, if known: the claim's first write then needs no guess. */
  readonly expectedRetries?: number;
  /** CodePipeline's count of RetryStageExecution calls on the stage execution, as seen when claiming. */
  readonly manualBefore?: number;
  /** The event of the failure, and the pipeline version it failed at (for a wake-up without the event). */
  readonly eventId?: string;
  readonly pipelineVersion?: number | undefined;
}

/** A claim as its first write makes it: the `attempt`-th retry of the stage execution, nothing counted yet. */
export function newClaim(c: NewClaim, attempt: number): Claim {
  return {
    occurrence: c.occurrence,
    attempt,
    status: c.status,
    retryMode: c.retryMode,
    claimedAt: c.now.toISOString(),
    dueAt: c.dueAt.toISOString(),
    leaseUntil: c.leaseUntil.toISOString(),
    token: c.token,
    fingerprint: c.fingerprint,
    busyCount: 0,
    throttleCount: 0,
    uncertain: false,
    failedAt: c.failedAt.toISOString(),
    ...(c.status === ClaimStatus.Retrying ? { heldSince: c.now.toISOString() } : {}),
    ...(c.manualBefore !== undefined ? { manualBefore: c.manualBefore } : {}),
    ...(c.eventId !== undefined ? { eventId: c.eventId } : {}),
    ...(c.pipelineVersion !== undefined ? { pipelineVersion: c.pipelineVersion } : {}),
    ...failureRecordOf(c),
  };
}

/** The failure fields of a claim or skip, only those that are set, the tests bounded. */
export function failureRecordOf(r: FailureRecord): FailureRecord {
  return {
    ...(r.failureClass !== undefined ? { failureClass: r.failureClass } : {}),
    ...(r.evidence !== undefined ? { evidence: clip(r.evidence, MAX_EVIDENCE) } : {}),
    ...(r.failedTests !== undefined && r.failedTests.length > 0
      ? { failedTests: r.failedTests.slice(0, MAX_RECORDED_TESTS).map(recordedTest) }
      : {}),
    ...(r.actionClasses !== undefined && Object.keys(r.actionClasses).length > 0
      ? { actionClasses: Object.fromEntries(Object.entries(r.actionClasses).slice(0, MAX_RECORDED_ACTIONS)) }
      : {}),
  };
}

export type ClaimResult =
  | { readonly kind: 'claimed'; readonly claim: Claim }
  | { readonly kind: 'exists'; readonly claim: Claim }
  /** Every slot is taken; `open` are the claims among them that have not ended (they may give theirs back). */
  | { readonly kind: 'exhausted'; readonly retries: number; readonly open: readonly Claim[] };

/**
 * Can a delivery that is not the claim's owner take it over now? Only when the owner's lease ran
 * out: a crashed instance (retrying) or a lost delay message (scheduled, lease = due time + grace).
 */
export function isStale(claim: Claim, now: Date): boolean {
  if (TERMINAL_STATUSES.includes(claim.status)) return false;
  return Date.parse(claim.leaseUntil) <= now.getTime();
}
