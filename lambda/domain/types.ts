/** How RetryStageExecution re-runs the stage. */
export const RetryMode = {
  FailedActions: 'FAILED_ACTIONS',
  AllActions: 'ALL_ACTIONS',
} as const;
export type RetryMode = (typeof RetryMode)[keyof typeof RetryMode];
export const RETRY_MODES: readonly RetryMode[] = Object.values(RetryMode);

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

/** A FAILED stage event, validated. */
export interface StageFailure {
  readonly eventId: string;
  readonly account: string;
  readonly region: string;
  readonly pipeline: string;
  readonly stage: string;
  readonly executionId: string;
  /**
   * `pipeline-execution-attempt` of the event: it grows with every retry of the execution,
   * so (pipeline, stage, execution, occurrence) names one failure occurrence.
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
}

/** How often the stage of this execution was retried, and by whom (GetPipelineState). */
export interface RetryMetadata {
  /** Retries by CodePipeline's own onFailure: RETRY. */
  readonly automatic: number;
  /** Retries by RetryStageExecution: people, and this tool. */
  readonly manual: number;
}

/** The live state of one stage, as the re-check sees it. */
export interface StageView {
  readonly pipelineVersion: number | undefined;
  readonly latestExecutionId: string | undefined;
  readonly status: string | undefined;
  readonly actions: readonly ActionView[];
  /** The stage has CodePipeline's own automatic retry (V2 onFailure: RETRY). */
  readonly nativeRetry: boolean;
  readonly retryMetadata: RetryMetadata | undefined;
}

/** The failed action executions of a stage, sorted: a retry or a new failure changes it. */
export function failureFingerprint(view: StageView): string {
  return view.actions
    .filter((a) => a.status === ActionStatus.Failed)
    .map((a) => `${a.name}:${a.executionId ?? '?'}`)
    .sort()
    .join(',');
}
