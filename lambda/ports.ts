/**
 * The ports of the retry service: every interface it calls, and the value types those calls
 * share. The service (lambda/service/) imports these and the domain, never an adapter; the
 * adapters (lambda/adapters/) implement them; tests hand in fakes of them.
 */
import type { Location, MetricName } from '../contract';
import type { PolicyLayers, RetryBudget, RetryMode } from '../policy/policy';
import type { LedgerSnapshot } from './domain/decision';
import type { DelayedRetryMessage } from './domain/events';
import type { Claim, ClaimResult, ClaimStatus, FailureRecord, LedgerKey, NewClaim } from './domain/ledger';
import type { BuildAnswer, DeploymentAnswer, StackEventAnswer, TestCaseAnswer } from './domain/provider-answers';
import type { ClaimOutcome } from './domain/reasons';
import type { PipelineRef, StageRef } from './domain/refs';
import type { ActionRun, StageView } from './domain/types';

// ---- CodePipeline ------------------------------------------------------------------------------

/** What a RetryStageExecution call came to. */
export const RetryCallResult = {
  Started: 'started',
  NotRetryable: 'not-retryable',
  NotLatest: 'not-latest',
  Busy: 'busy',
  Permanent: 'permanent',
  /** ThrottlingException, or our own pacing held the call back: it did not take effect. */
  Throttled: 'throttled',
  /** A 5xx, a timeout or a dropped connection: the call may or may not have taken effect. */
  Ambiguous: 'ambiguous',
} as const;
export type RetryCallResult = (typeof RetryCallResult)[keyof typeof RetryCallResult];

export interface RetryCallOutcome {
  readonly result: RetryCallResult;
  /** The exception name when the call was refused. */
  readonly error?: string;
  readonly message?: string;
}

export type StageLookup =
  | { readonly kind: 'found'; readonly view: StageView }
  | { readonly kind: 'no-stage' }
  | { readonly kind: 'no-pipeline' };

/**
 * The live pipeline state, and the one call that changes it. Reads throw ThrottledError when
 * throttled (or paced), TransientFaultError for other faults.
 */
export interface PipelinePort {
  /** The stage as the execution sees it: its latest run, or in PARALLEL mode the execution's own. */
  getStage(ref: StageRef): Promise<StageLookup>;
  retryStage(ref: StageRef, retryMode: RetryMode): Promise<RetryCallOutcome>;
  /** Every run of the stage's actions in the execution, earlier runs included. */
  actionRuns(ref: StageRef): Promise<ActionRun[]>;
}

// ---- Providers behind actions -------------------------------------------------------------------

/**
 * The providers behind failed actions, read to tell why they failed; each call goes to the
 * pipeline's own account and region. Reads throw ThrottledError when throttled (after the SDK's
 * own retries), TransientFaultError for other faults; a refusal that asking again will not change
 * (access denied) is the TransientFaultError subclass ProviderRefusedError.
 */
export interface ProviderPort {
  /** A CodeBuild build (BatchGetBuilds), by its id `<project>:<uuid>`; undefined when there is no such build. */
  build(at: Location, buildId: string): Promise<BuildAnswer | undefined>;
  /**
   * The FAILED and ERROR test cases of each report (DescribeTestCases), every page, up to a bound
   * (MAX_TEST_CASES in lambda/adapters/codebuild-reader.ts); a report that no longer exists has none.
   */
  failedTestCases(at: Location, reportArns: readonly string[]): Promise<TestCaseAnswer[]>;
  /** A CodeDeploy deployment (GetDeployment); undefined when there is no such deployment. */
  deployment(at: Location, deploymentId: string): Promise<DeploymentAnswer | undefined>;
  /**
   * The stack's events at or after `since`, newest first (DescribeStackEvents, page after page
   * until an older one, up to a bound: MAX_STACK_EVENT_PAGES in lambda/adapters/stack-events-reader.ts);
   * none for a stack that does not exist.
   */
  stackEvents(at: Location, stackName: string, since: Date): Promise<StackEventAnswer[]>;
}

// ---- Ledger ------------------------------------------------------------------------------------

export type { NewClaim };

/** Why a claim goes back to waiting. */
export type RescheduleWhy = 'busy' | 'throttled' | 'uncertain';

export interface ClaimFinish {
  readonly status: typeof ClaimStatus.Retried | typeof ClaimStatus.Abandoned | typeof ClaimStatus.Failed;
  readonly outcome: ClaimOutcome;
  readonly reason: string;
  readonly now: Date;
  /**
   * Keep the retry slot even though this holder made no retry: an earlier holder may have made
   * it before it crashed, and counting it once too often is safer than retrying once too often.
   */
  readonly keepSlot?: boolean;
}

/** Why one failure occurrence is not retried. */
export interface SkipEntry extends FailureRecord {
  readonly occurrence: number;
  readonly reason: string;
  readonly detail: string;
  readonly now: Date;
  /** When the stage failed: a new record's first failure. @default now */
  readonly failedAt?: Date;
}

/**
 * What a skip write found. A skip is written only while the occurrence has no claim, or one whose
 * holder died (its lease is over): a claim another delivery holds, or one that ended, stands,
 * and the skip is not written.
 */
export interface SkipRecord {
  /** True when this write recorded the skip; false for this very reason recorded already, or a claim that stands. */
  readonly first: boolean;
  /** The occurrence's claim, if a delivery claimed it (and may have crashed holding it). */
  readonly claim: Claim | undefined;
  /** The stage execution's retries as the record shows them, for a claim that stands. */
  readonly snapshot: LedgerSnapshot;
  /** This write's own id on the skip, to withdraw it (withdrawSkip). */
  readonly id: string;
}

/** The ledger's view of one stage execution, read before deciding. */
export interface LedgerView {
  readonly snapshot: LedgerSnapshot;
  /** This failure occurrence's claim, if it has one: the event is then a duplicate or a takeover. */
  readonly claim: Claim | undefined;
  /** The claims of other occurrences that have not ended: slots that may still be given back. */
  readonly open: readonly Claim[];
  /** The failed action executions our retries of earlier occurrences re-ran (their claims' fingerprints). */
  readonly retriedFingerprints: readonly string[];
}

/** A ledger record with open claims, as the reconciler finds it. */
export interface OpenRecord {
  /** The record's stage execution; a record that never kept its account and region names none. */
  readonly key: LedgerKey;
  readonly retries: number;
  readonly open: readonly Claim[];
  /** The record as read, for keeping the index true. */
  readonly item: Readonly<Record<string, unknown>>;
}

/** The attempt ledger, as the retry function uses it: single-item conditional updates only, one record per StageRef. */
export interface LedgerPort {
  view(ref: StageRef, occurrence: number): Promise<LedgerView>;
  recordRecovery(ref: StageRef, now: Date): Promise<number | undefined>;
  claim(ref: StageRef, claim: NewClaim): Promise<ClaimResult>;
  get(ref: StageRef, occurrence: number): Promise<Claim | undefined>;
  acquire(ref: StageRef, claim: Claim, token: string, leaseUntil: Date, now: Date): Promise<boolean>;
  /**
   * Takes a claim whose time has come in one write, given the token its delay message carries:
   * a scheduled claim now due, or a retrying one whose lease ran out. Returns the record as it
   * was (the claim before it was taken), or undefined when the claim is not in that state.
   * `wasRetrying` says whether the claim was taken from a holder whose lease ran out (it may have
   * called); undefined when that cannot be known (the write's answer was lost).
   */
  takeDue(
    ref: StageRef,
    occurrence: number,
    expectedToken: string,
    token: string,
    leaseUntil: Date,
    now: Date,
  ): Promise<(LedgerView & { readonly wasRetrying: boolean | undefined }) | undefined>;
  /** Back to waiting; counts the busy or throttled answer, or marks the claim uncertain. */
  reschedule(ref: StageRef, claim: Claim, token: string, dueAt: Date, leaseUntil: Date, why: RescheduleWhy): Promise<boolean>;
  /** Undoes a move whose next step failed: the claim is `retrying` with its lease run out, so the next delivery takes it over. */
  makeRecoverable(ref: StageRef, claim: Claim, now: Date): Promise<boolean>;
  finish(ref: StageRef, claim: Claim, finish: ClaimFinish): Promise<boolean>;
  release(ref: StageRef, claim: Claim): Promise<boolean>;
  /** Records why an occurrence is not retried. */
  recordSkip(ref: StageRef, skip: SkipEntry): Promise<SkipRecord>;
  /**
   * Takes back a skip this delivery wrote (`id`), when the claim it meant to settle turned out to
   * be another's: the claim's holder decides. Nothing happens when the skip is not that one.
   */
  withdrawSkip(ref: StageRef, occurrence: number, id: string): Promise<void>;
  /** Records holding an open claim whose deadline is at or before `cutoff`, at most `limit`. */
  overdue(cutoff: Date, limit: number): Promise<OpenRecord[]>;
  /**
   * The reconciler woke an overdue claim: it is scheduled, due `now`, held by `token` (the token of
   * the message it sends) until `leaseUntil`, the wake-up counted; uncertain if it was taken from a holder.
   */
  wake(ref: StageRef, claim: Claim, token: string, now: Date, leaseUntil: Date): Promise<boolean>;
  /** Takes a record that no longer has an open claim out of the open-claims index. */
  dropFromIndex(record: OpenRecord): Promise<void>;
}

// ---- Policies ----------------------------------------------------------------------------------

export interface PolicyContext {
  readonly layers: PolicyLayers;
  readonly paused: boolean;
  /** Items that failed validation and were ignored, so the caller can log them. */
  readonly problems: readonly string[];
}

export interface PolicyReader {
  /** The policy layers and pause switches for a stage of the pipeline. */
  load(pipeline: PipelineRef, stage: string): Promise<PolicyContext>;
}

// ---- Retry budget ------------------------------------------------------------------------------

export type BudgetResult =
  | { readonly ok: true; readonly used: number }
  | { readonly ok: false; readonly used: number; readonly reopensAt: Date };

export interface BudgetPort {
  /** Takes one retry from the pipeline's budget for `id`; taking it twice for one id is a no-op. */
  reserve(pipeline: PipelineRef, id: string, budget: RetryBudget, now: Date): Promise<BudgetResult>;
  /** Gives back what `reserve` took for `id`, when no retry was made after all. */
  release(pipeline: PipelineRef, id: string, now: Date): Promise<void>;
}

// ---- Delay queue -------------------------------------------------------------------------------

export interface DelayPort {
  /** Sends the message to come back after `delaySeconds` (capped at 900 by the adapter). */
  send(message: DelayedRetryMessage, delaySeconds: number): Promise<void>;
}

// ---- Notifications -----------------------------------------------------------------------------

/** Why operators are told about a failure. */
export const NoticeKind = {
  Exhausted: 'retries exhausted',
  NotRetryable: 'not retryable',
  RetryFailed: 'retry failed permanently',
  CircuitOpen: 'retry budget spent: circuit open',
  GaveUp: 'gave up retrying',
  /** A retry showed the failure is deterministic (the same tests failed again). */
  Stopped: 'retries stopped',
} as const;
export type NoticeKind = (typeof NoticeKind)[keyof typeof NoticeKind];

/** What operators are told, about the stage execution it names (a member account's console link needs its account and region). */
export interface Notice extends StageRef {
  readonly kind: NoticeKind;
  readonly reason: string;
  /** What failed, from the stage's failed actions: "UnitTests: JobFailed — Build timed out". */
  readonly failureSummary: string;
}

export interface NotifierPort {
  notify(notice: Notice): Promise<void>;
}

// ---- Metrics and logs --------------------------------------------------------------------------

export type { MetricName } from '../contract';

/** What a count carries besides its name and pipeline. */
export interface MetricFields {
  /** Extra dimensions (bounded sets only). @default none */
  readonly dimensions?: Record<string, string>;
  /** Searchable in the EMF document, never a dimension: the account, region, stage, reason. @default none */
  readonly metadata?: Record<string, string | number>;
}

export interface MetricsPort {
  /** One count of `name` for `pipeline`. */
  count(name: MetricName, pipeline: string, fields?: MetricFields): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One structured log line per call. */
export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}
