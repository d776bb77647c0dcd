import type { RetryPolicy } from './policy';
import { ActionStatus, type RetryMode, type StageFailure, StageStatus, type StageView } from './types';

/** Why a failure is left alone. The same words appear in logs and in the ledger. */
export const SkipReason = {
  StageNotFound: 'stage-not-found',
  PipelineNotFound: 'pipeline-not-found',
  Paused: 'paused',
  RetriesDisabled: 'retries-disabled',
  Superseded: 'superseded',
  StageInProgress: 'stage-in-progress',
  StageStopped: 'stage-stopped',
  StageNotFailed: 'stage-not-failed',
  ActionInProgress: 'action-in-progress',
  ApprovalRejected: 'approval-rejected',
  NoFailedActions: 'no-failed-actions',
  PipelineChanged: 'pipeline-changed',
  MaxRetries: 'max-retries',
  Duplicate: 'duplicate',
  StageChanged: 'stage-changed',
  ObserveOnly: 'observe-only',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

export type Decision =
  | { readonly kind: 'retry-now'; readonly retryMode: RetryMode; readonly reason: string }
  | { readonly kind: 'retry-at'; readonly at: Date; readonly retryMode: RetryMode; readonly reason: string }
  | { readonly kind: 'skip'; readonly reason: SkipReason; readonly detail: string };

export interface DecisionContext {
  /** An operator paused automatic retries for this pipeline (or all pipelines). */
  readonly paused: boolean;
}

const skip = (reason: SkipReason, detail: string): Decision => ({ kind: 'skip', reason, detail });

/**
 * Whether and when to retry one failed stage, from data alone: the failure, the stage's live
 * state, the policy and the clock. The retry count is enforced by the ledger's conditional claim,
 * not here, because only the store can make it safe against concurrent deliveries.
 */
export function decide(
  failure: StageFailure,
  stage: StageView | undefined,
  policy: RetryPolicy,
  context: DecisionContext,
  now: Date,
): Decision {
  if (!stage) return skip(SkipReason.StageNotFound, `pipeline ${failure.pipeline} has no stage ${failure.stage}`);
  if (context.paused) return skip(SkipReason.Paused, 'automatic retries are paused for this pipeline');
  if (policy.maxRetries === 0) return skip(SkipReason.RetriesDisabled, 'the policy allows 0 retries');

  const stageProblem = checkRetryable(failure, stage);
  if (stageProblem) return stageProblem;

  const due = new Date(failure.failedAt.getTime() + policy.cooldownSeconds * 1000);
  if (due.getTime() <= now.getTime()) {
    return {
      kind: 'retry-now',
      retryMode: policy.retryMode,
      reason: policy.cooldownSeconds === 0 ? 'no cooldown' : 'cooldown already elapsed',
    };
  }
  return { kind: 'retry-at', at: due, retryMode: policy.retryMode, reason: `cooldown ${policy.cooldownSeconds}s` };
}

/**
 * The live-state rules a retry must pass, at decision time and again when a delayed retry
 * comes due: the stage's latest execution is ours, it failed, nothing in it still runs, and the
 * failure is not a rejected approval.
 */
export function checkRetryable(failure: StageFailure, stage: StageView): Decision | undefined {
  if (stage.latestExecutionId !== failure.executionId) {
    return skip(SkipReason.Superseded, `stage's latest execution is ${stage.latestExecutionId ?? 'none'}, not ${failure.executionId}`);
  }
  switch (stage.status) {
    case StageStatus.Failed:
      break;
    case StageStatus.InProgress:
    case StageStatus.Stopping:
      return skip(SkipReason.StageInProgress, `stage is ${stage.status}`);
    case StageStatus.Stopped:
      return skip(SkipReason.StageStopped, 'stage was stopped by an operator');
    default:
      return skip(SkipReason.StageNotFailed, `stage is ${stage.status ?? 'without status'}`);
  }
  const running = stage.actions.filter((a) => a.status === ActionStatus.InProgress);
  if (running.length > 0) {
    return skip(SkipReason.ActionInProgress, `still running: ${running.map((a) => a.name).join(', ')}`);
  }
  const failed = stage.actions.filter((a) => a.status === ActionStatus.Failed);
  const approvals = failed.filter((a) => a.category === 'Approval');
  if (approvals.length > 0) {
    return skip(
      SkipReason.ApprovalRejected,
      `manual approval rejected: ${approvals.map((a) => a.name).join(', ')}; approvals are never retried`,
    );
  }
  if (failed.length === 0) return skip(SkipReason.NoFailedActions, 'stage has no failed actions');
  if (failure.pipelineVersion !== undefined && stage.pipelineVersion !== undefined && stage.pipelineVersion !== failure.pipelineVersion) {
    return skip(
      SkipReason.PipelineChanged,
      `pipeline is at version ${stage.pipelineVersion}, the failure happened at ${failure.pipelineVersion}`,
    );
  }
  return undefined;
}
