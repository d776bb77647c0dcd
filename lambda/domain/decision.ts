import { BuiltInRule, Jitter, PolicyLayer, type ResolvedPolicy, RetryMode, type RetryPolicy, SPREAD_SHARE } from '../../policy/policy';
import { needsClassification } from '../../policy/rules';
import { type ActionClasses, applyFilters, type Matcher } from './filters';
import type { TestIdentity } from './provider-answers';
import { SkipReason } from './reasons';
import { namedTests } from './test-identities';
import { ActionStatus, type StageFailure, StageStatus, type StageView } from './types';

interface RetryDecision {
  readonly retryMode: RetryMode;
  readonly reason: string;
  /** Our own retries this stage execution may still claim in all (maxRetries less others' retries). */
  readonly allowedRetries: number;
  /** The number this retry will have, counting the retries that count. */
  readonly attempt: number;
}

export type Decision =
  | ({ readonly kind: 'retry-now' } & RetryDecision)
  | ({ readonly kind: 'retry-at'; readonly at: Date } & RetryDecision)
  | { readonly kind: 'skip'; readonly reason: SkipReason; readonly detail: string };

/** What the ledger knows about this stage execution. */
export interface LedgerSnapshot {
  /** Our automatic retries of this stage execution that hold a slot. */
  readonly retries: number;
  /** When the stage first failed in this execution, if the ledger saw it. */
  readonly firstFailureAt: Date | undefined;
}

export interface DecisionContext {
  /** An operator paused automatic retries for this pipeline (or all pipelines). */
  readonly paused: boolean;
  readonly ledger: LedgerSnapshot;
  /** A number in [0, 1): only used for jitter. */
  readonly random: () => number;
  /** We already waited the bounded time for the stage's own onFailure retry: the policy applies now. */
  readonly nativeWaitOver?: boolean;
  /** How rules' message patterns are tested (the function gives each test a time limit). @default a plain test */
  readonly match?: Matcher;
  /** Why each failed action failed, by action name, for rules with `class`. @default none: every action counts as `unknown` */
  readonly classes?: ActionClasses;
  /** A CodeBuild action that failed after our retry with the same set of tests as before it. @default none */
  readonly sameTests?: SameTestsFailure;
}

/** The same tests failed twice in one action: before our retry and after it. */
export interface SameTestsFailure {
  readonly action: string;
  readonly tests: readonly TestIdentity[];
}

const CHANGE_SET_MODES = ['CHANGE_SET_REPLACE', 'CHANGE_SET_EXECUTE'];
const skip = (reason: SkipReason, detail: string): Decision => ({ kind: 'skip', reason, detail });
const seconds = (n: number) => `${Math.round(n)}s`;

/**
 * Whether and when to retry one failed stage, from data alone: the failure, the stage's live
 * state, the resolved policy, what the ledger knows and the clock. The final word on the retry
 * count is the ledger's conditional claim, which alone is safe against concurrent deliveries.
 */
export function decide(
  failure: StageFailure,
  stage: StageView | undefined,
  resolved: ResolvedPolicy,
  context: DecisionContext,
  now: Date,
): Decision {
  const { policy } = resolved;
  if (!stage) return skip(SkipReason.StageNotFound, `pipeline ${failure.pipeline} has no stage ${failure.stage}`);
  if (context.paused) return skip(SkipReason.Paused, 'automatic retries are paused for this pipeline');
  if (policy.maxRetries === 0) return skip(SkipReason.RetriesDisabled, 'the policy allows 0 retries');

  const stageProblem = checkRetryable(failure, stage, policy.overrideBuiltIns);
  if (stageProblem) return stageProblem;

  if (stage.onFailure?.result === 'ROLLBACK') {
    return skip(SkipReason.RollbackConfigured, "the stage's onFailure is ROLLBACK: CodePipeline rolls it back, and a retry would fight it");
  }
  if (stage.onFailure?.result === 'RETRY' && (stage.retryMetadata?.automatic ?? 0) === 0 && !context.nativeWaitOver) {
    const conditional = stage.onFailure.conditional ? ' (its conditions may keep it from running)' : '';
    return skip(SkipReason.NativeRetryPending, `the stage's own onFailure retry has not run yet; it goes first${conditional}`);
  }

  const same = context.sameTests;
  if (same && !policy.overrideBuiltIns.includes(BuiltInRule.SameTestsFailed)) {
    const count = same.tests.length === 1 ? 'the same test' : `the same ${same.tests.length} tests`;
    const where = `${failure.pipeline}/${failure.stage} (${same.action})`;
    return skip(SkipReason.SameTestsFailed, `test failures in ${where}, ${count} failed twice: ${namedTests(same.tests)}`);
  }

  const failed = stage.actions.filter((a) => a.status === ActionStatus.Failed);
  const verdict = applyFilters(failed, policy.retryOn, policy.neverRetryOn, context.match, context.classes);
  if (!verdict.retry) {
    const classified = context.classes?.get(verdict.action);
    const why = needsClassification(policy) ? ` (class ${classified ? `${classified.class}: ${classified.evidence}` : 'unknown'})` : '';
    const detail =
      verdict.reason === 'never-retry-rule'
        ? `${verdict.rule} matches the failure of ${verdict.action}${why}`
        : `no retryOn rule matches the failure of ${verdict.action}${why}`;
    return skip(verdict.reason === 'never-retry-rule' ? SkipReason.NeverRetryRule : SkipReason.NoRetryRuleMatch, detail);
  }

  const others = retriesByOthers(stage, policy, context.ledger.retries);
  const used = context.ledger.retries + others;
  if (used >= policy.maxRetries) {
    const counted = others > 0 ? ` (${context.ledger.retries} ours, ${others} native or by hand)` : '';
    return skip(SkipReason.MaxRetries, `all ${policy.maxRetries} automatic retries of this stage execution are used${counted}`);
  }

  const firstFailure = Math.min(context.ledger.firstFailureAt?.getTime() ?? Number.POSITIVE_INFINITY, failure.failedAt.getTime());
  const windowEnd = policy.maxRetryWindowSeconds === undefined ? undefined : firstFailure + policy.maxRetryWindowSeconds * 1000;
  if (windowEnd !== undefined && now.getTime() > windowEnd) {
    return skip(SkipReason.RetryWindowPassed, `more than ${seconds(policy.maxRetryWindowSeconds ?? 0)} since the stage first failed`);
  }

  const attempt = used + 1;
  const delay = retryDelaySeconds(policy, attempt, context.random);
  const due = new Date(failure.failedAt.getTime() + delay * 1000);
  if (windowEnd !== undefined && due.getTime() > windowEnd) {
    return skip(
      SkipReason.RetryWindowPassed,
      `retry ${attempt} would be due after the ${seconds(policy.maxRetryWindowSeconds ?? 0)} window closes`,
    );
  }

  const { retryMode, why } = chooseRetryMode(resolved, stage);
  const filterWhy = policy.retryOn ? `; allowed by ${verdict.rule}` : '';
  const base = { retryMode, allowedRetries: policy.maxRetries - others, attempt };
  if (due.getTime() <= now.getTime()) {
    const reason = `${delay === 0 ? 'no cooldown' : `cooldown ${seconds(delay)} already elapsed`}${why}${filterWhy}`;
    return { kind: 'retry-now', ...base, reason };
  }
  return { kind: 'retry-at', at: due, ...base, reason: `cooldown ${seconds(delay)}${why}${filterWhy}` };
}

/**
 * The wait before retry number `attempt` (1 for the first): cooldown × backoff^(attempt-1),
 * capped at maxCooldown, then spread by the policy's jitter.
 */
export function retryDelaySeconds(policy: RetryPolicy, attempt: number, random: () => number): number {
  const grown = policy.cooldownSeconds * policy.backoff ** Math.max(0, attempt - 1);
  const capped = Math.min(grown, policy.maxCooldownSeconds);
  switch (policy.jitter) {
    case Jitter.Full:
      return Math.floor(random() * capped);
    case Jitter.Spread:
      return Math.round(capped + random() * capped * SPREAD_SHARE);
    case Jitter.None:
      return Math.round(capped);
  }
}

/** Retries of this stage execution made by CodePipeline's own retry or by people, when they count. */
function retriesByOthers(stage: StageView, policy: RetryPolicy, ours: number): number {
  if (!policy.countManualRetries || !stage.retryMetadata) return 0;
  // Our RetryStageExecution calls show up as manual retries too; only the rest are people's.
  return stage.retryMetadata.automatic + Math.max(0, stage.retryMetadata.manual - ours);
}

/**
 * CloudFormation change-set stages need ALL_ACTIONS: a FAILED_ACTIONS retry of the execute step
 * fails with ChangeSetNotFound. That default applies unless the pipeline or stage policy chose.
 */
function chooseRetryMode(resolved: ResolvedPolicy, stage: StageView): { retryMode: RetryMode; why: string } {
  const chosen = resolved.sources.retryMode === PolicyLayer.Pipeline || resolved.sources.retryMode === PolicyLayer.Stage;
  const changeSet = stage.actions.some((a) => a.provider === 'CloudFormation' && CHANGE_SET_MODES.includes(a.actionMode ?? ''));
  if (!chosen && changeSet && resolved.policy.retryMode !== RetryMode.AllActions) {
    return { retryMode: RetryMode.AllActions, why: '; ALL_ACTIONS: change-set deploy stage default' };
  }
  return { retryMode: resolved.policy.retryMode, why: '' };
}

/**
 * The live-state rules a retry must pass, at decision time and again when a delayed retry comes
 * due: the stage's latest execution is ours, it failed, nothing in it still runs, and the failure
 * is not a rejected approval (unless the policy overrides that built-in rule).
 */
export function checkRetryable(failure: StageFailure, stage: StageView, overrides: readonly BuiltInRule[] = []): Decision | undefined {
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
      if (overrides.includes(BuiltInRule.StageStopped)) break;
      return skip(SkipReason.StageStopped, 'stage was stopped by an operator');
    default:
      return skip(SkipReason.StageNotFailed, `stage is ${stage.status ?? 'without status'}`);
  }
  const running = stage.actions.filter((a) => a.status === ActionStatus.InProgress);
  if (running.length > 0) return skip(SkipReason.ActionInProgress, `still running: ${running.map((a) => a.name).join(', ')}`);
  const failed = stage.actions.filter((a) => a.status === ActionStatus.Failed || a.status === ActionStatus.Abandoned);
  const approvals = failed.filter((a) => a.category === 'Approval');
  if (approvals.length > 0 && !overrides.includes(BuiltInRule.ApprovalRejected)) {
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
