/**
 * The words of every decision. A log line, a metric's Reason dimension and a ledger record say
 * the same thing with the same word, so an operator can follow a failure from any of them.
 */

/** Why a failure is left alone, or why a claim ends without a retry. */
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
  NativeRetryPending: 'native-retry-pending',
  NeverRetryRule: 'never-retry-rule',
  NoRetryRuleMatch: 'no-retry-rule-match',
  MaxRetries: 'max-retries',
  RetryWindowPassed: 'retry-window-passed',
  BudgetExhausted: 'budget-exhausted',
  Duplicate: 'duplicate',
  StageChanged: 'stage-changed',
  /** CodePipeline refused the retry: StageNotRetryableException. */
  NotRetryable: 'not-retryable',
  ObserveOnly: 'observe-only',
  /** CodePipeline kept answering busy (Conflict, concurrency limit) until we gave up. */
  BusyTooLong: 'busy-too-long',
  /** CodePipeline refused the retry for good: not found, validation. */
  PermanentError: 'permanent-error',
  /** A delay-queue message whose claim is no longer in the ledger. */
  NoClaim: 'no-claim',
  /** The stage's onFailure is ROLLBACK: CodePipeline rolls the stage back, and a retry would fight it. */
  RollbackConfigured: 'rollback-configured',
  /** The event comes from an account or region this deployment does not serve. */
  NotAMember: 'not-a-member',
  /** CodePipeline kept throttling us (or our own pacing held the call back) until we gave up. */
  ThrottledTooLong: 'throttled-too-long',
  /** The reconciler kept finding the claim past its deadline, woke it again and again, and gave up. */
  ClaimStuck: 'claim-stuck',
  /** GetPipelineState kept showing the state from before the failure (it is eventually consistent), read after read. */
  StateLagsBehind: 'state-lags-behind',
  /** After our retry, a CodeBuild action failed with the same set of tests as before it: the failure is deterministic. */
  SameTestsFailed: 'same-tests-failed',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** What became of one delivery: the `decision` field of the log line. */
export const Outcome = {
  Retried: 'retried',
  Scheduled: 'scheduled',
  Rescheduled: 'rescheduled',
  Waiting: 'waiting',
  Deferred: 'deferred',
  Skipped: 'skipped',
  Observed: 'observed',
  Recovered: 'recovered',
  Abandoned: 'abandoned',
  Failed: 'failed',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** The outcome recorded on a finished claim: `retried`, `failed` (refused for good), or why no retry was made. */
export type ClaimOutcome = typeof Outcome.Retried | typeof Outcome.Failed | SkipReason;
