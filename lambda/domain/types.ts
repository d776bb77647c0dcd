import type { StageRef } from './refs';

/** Stage execution statuses as GetPipelineState reports them. */
export const StageStatus = {
  InProgress: 'InProgress',
  Failed: 'Failed',
  Succeeded: 'Succeeded',
  Stopped: 'Stopped',
  Stopping: 'Stopping',
  Cancelled: 'Cancelled',
  Skipped: 'Skipped',
} as const;
export type StageStatus = (typeof StageStatus)[keyof typeof StageStatus];

export const ActionStatus = {
  InProgress: 'InProgress',
  Abandoned: 'Abandoned',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
} as const;
export type ActionStatus = (typeof ActionStatus)[keyof typeof ActionStatus];

/** A FAILED stage event, validated: the stage execution it names, and which failure of it. */
export interface StageFailure extends StageRef {
  readonly eventId: string;
  /**
   * Names one failure occurrence of (pipeline, stage, execution): the event's
   * `pipeline-execution-attempt`, which grows with every retry of the execution, or, when the
   * event has none, a number made from the failed actions' execution ids (see fallbackOccurrence).
   */
  readonly occurrence: number;
  readonly pipelineVersion: number | undefined;
  /** When the stage failed (the event's `time`). */
  readonly failedAt: Date;
}

export interface ActionView {
  readonly name: string;
  /** From GetPipeline: Source, Build, Test, Deploy, Approval, Invoke, Compute. */
  readonly category: string | undefined;
  readonly provider: string | undefined;
  readonly status: string | undefined;
  readonly executionId: string | undefined;
  readonly errorCode: string | undefined;
  /** errorDetails.message of the failed run. */
  readonly errorMessage: string | undefined;
  /** The action run's summary (for CodeBuild, often the build's failure text). */
  readonly summary: string | undefined;
  /** configuration.ActionMode (CloudFormation actions): CHANGE_SET_REPLACE, CHANGE_SET_EXECUTE, … */
  readonly actionMode: string | undefined;
  /** When the action's latest run last changed status (lastStatusChange). */
  readonly changedAt?: Date | undefined;
  /** The provider's id of the run: a CodeBuild build id, a CodeDeploy deployment id (externalExecutionId). */
  readonly externalExecutionId?: string | undefined;
  /** The action's configuration from GetPipeline: ProjectName, StackName, ApplicationName, FunctionName, … */
  readonly configuration?: Readonly<Record<string, string>> | undefined;
}

/** One run of an action in one pipeline execution (ListActionExecutions). */
export interface ActionRun {
  readonly actionName: string;
  readonly actionExecutionId: string | undefined;
  readonly startedAt: Date | undefined;
  /** The provider's id of the run (a CodeBuild build id): output.executionResult.externalExecutionId. @default unknown */
  readonly externalExecutionId?: string | undefined;
}

/** How often the stage of this execution was retried, and by whom (GetPipelineState). */
export interface RetryMetadata {
  /** Retries by CodePipeline's own onFailure: RETRY. */
  readonly automatic: number;
  /** Retries by RetryStageExecution: people, and this tool. */
  readonly manual: number;
}

/** How far ahead of our clock an event's time may be (clock skew) before it is taken as now. */
export const CLOCK_SKEW_SECONDS = 300;

/**
 * The failure time a decision may use: the event's, unless it lies ahead of now by more than
 * clock skew allows (a bad clock, or a forged event), in which case it is now. A time in another
 * century could otherwise put a retry there, or overflow the dates computed from it.
 */
export function saneFailureTime(failedAt: Date, now: Date): Date {
  return failedAt.getTime() > now.getTime() + CLOCK_SKEW_SECONDS * 1000 ? now : failedAt;
}

/** A failure as the event reports it: the attempt number may be missing. */
export type ReportedFailure = Omit<StageFailure, 'occurrence'> & { readonly occurrence: number | undefined };

/** What a stage does on failure by itself (V2 pipelines' `onFailure`). */
export interface OnFailure {
  /** RETRY (CodePipeline's own retry), ROLLBACK or FAIL. */
  readonly result: string;
  /** The stage's onFailure has conditions (rules): its result may never happen. */
  readonly conditional: boolean;
}

/** The live state of one stage, as the re-check sees it. */
export interface StageView {
  readonly pipelineVersion: number | undefined;
  /** The execution whose run the view shows (the stage's latest, or, in PARALLEL mode, the event's own). */
  readonly latestExecutionId: string | undefined;
  readonly status: string | undefined;
  readonly actions: readonly ActionView[];
  /** The stage's own onFailure, if the pipeline has one. */
  readonly onFailure: OnFailure | undefined;
  readonly retryMetadata: RetryMetadata | undefined;
  /** SUPERSEDED (default), QUEUED or PARALLEL. */
  readonly executionMode?: string | undefined;
}

/**
 * Occurrence numbers from here up stand for failures whose event had no attempt number; they are
 * made from the failed actions' execution ids, so duplicates of one failure share one and the
 * next failure of the execution (new action executions) gets another.
 */
export const FALLBACK_OCCURRENCE_BASE = 1_000_000_000;

export function fallbackOccurrence(view: StageView): number {
  let hash = 0x811c9dc5;
  for (const char of failureFingerprint(view)) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return FALLBACK_OCCURRENCE_BASE + (hash % FALLBACK_OCCURRENCE_BASE);
}

/**
 * Evidence in the live state that a retry of this stage execution took effect since a claim
 * was made: the stage runs or ran again, its failed action executions changed, or CodePipeline
 * counts more RetryStageExecution calls than when the claim was made.
 */
export function retryTookEffect(executionId: string, fingerprint: string, manualBefore: number | undefined, now: StageView): boolean {
  if (now.latestExecutionId !== executionId) return false;
  if (now.status === 'InProgress' || now.status === 'Succeeded') return true;
  if (manualBefore !== undefined && (now.retryMetadata?.manual ?? 0) > manualBefore) return true;
  return fingerprint !== '' && failureFingerprint(now) !== fingerprint;
}

/** The failed action executions of a stage, sorted: a retry or a new failure changes it. */
export function failureFingerprint(view: StageView): string {
  return view.actions
    .filter((a) => a.status === ActionStatus.Failed)
    .map((a) => `${a.name}:${a.executionId ?? '?'}`)
    .sort()
    .join(',');
}

/** The failed action executions a fingerprint names: action name and execution id. */
export function fingerprintEntries(fingerprint: string): { readonly action: string; readonly executionId: string }[] {
  if (fingerprint === '') return [];
  return fingerprint.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    return { action: entry.slice(0, at), executionId: entry.slice(at + 1) };
  });
}

/**
 * Positive evidence about a retry we may have made, from the stage's action runs in the execution
 * (ListActionExecutions, which lists every run, not only the latest): did any action that had
 * failed when the claim was made run again since? A retry of the stage re-runs its failed actions
 * (FAILED_ACTIONS) or all of them (ALL_ACTIONS), so "no" means no retry of the stage took effect.
 * Without a fingerprint, any run that started after `since` counts.
 */
export function failedActionsRanAgain(fingerprint: string, runs: readonly ActionRun[], since: Date): boolean {
  const failed = fingerprintEntries(fingerprint);
  if (failed.length === 0) return runs.some((r) => (r.startedAt?.getTime() ?? 0) >= since.getTime());
  return failed.some(({ action, executionId }) => {
    const own = runs.filter((r) => r.actionName === action);
    const failedRun = own.find((r) => r.actionExecutionId === executionId);
    const after = failedRun?.startedAt?.getTime() ?? since.getTime();
    return own.some((r) => r.actionExecutionId !== executionId && (r.startedAt?.getTime() ?? 0) >= after);
  });
}

/**
 * Does the live state lag behind the failure? GetPipelineState is eventually consistent: right
 * after a FAILED event (most of all the failure of one of our own retries) a read may still show
 * the run before it. It does when it shows our execution's stage not failed, while no action in
 * it changed since the failure and CodePipeline counts no retry of it since (the event's attempt
 * number says how many came before). A stage that runs again after a retry begun since the
 * failure has moved on for real. It lags too when it shows the stage failed with the very action
 * executions one of our earlier retries re-ran (`retriedFingerprints`, from the ledger).
 */
export function lagsBehind(failure: StageFailure, view: StageView, retriedFingerprints: readonly string[] = []): boolean {
  // Still the failure that one of our earlier retries re-ran: the read is from before that retry.
  if (view.status === StageStatus.Failed && view.latestExecutionId === failure.executionId) {
    const shown = failureFingerprint(view);
    return shown !== '' && retriedFingerprints.includes(shown);
  }
  if (view.latestExecutionId !== undefined && view.latestExecutionId !== failure.executionId) return false;
  if (view.status === StageStatus.Failed || view.status === StageStatus.Stopped) return false;
  const changedSince = view.actions.some((a) => a.changedAt !== undefined && a.changedAt.getTime() >= failure.failedAt.getTime());
  if (changedSince) return false;
  const attempt = failure.occurrence < FALLBACK_OCCURRENCE_BASE ? failure.occurrence : undefined;
  const retries = (view.retryMetadata?.manual ?? 0) + (view.retryMetadata?.automatic ?? 0);
  return attempt === undefined || retries <= attempt - 1;
}
