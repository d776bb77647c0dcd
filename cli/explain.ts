import { decide, retryDelaySeconds } from '../lambda/domain/decision';
import { applyFilters } from '../lambda/domain/filters';
import type { Classification } from '../lambda/domain/provider-answers';
import { SkipReason } from '../lambda/domain/reasons';
import { ActionStatus, type StageFailure, type StageView } from '../lambda/domain/types';
import type { PolicyContext } from '../lambda/ports';
import { FailureClass } from '../policy/failure-class';
import { Jitter, type RetryPolicy, resolvePolicy } from '../policy/policy';
import { type FailureRule, isTransientPreset, needsClassification } from '../policy/rules';

/** A made-up failure of one action: what CodePipeline reports, and optionally why its provider says it failed. */
export interface ExplainedFailure {
  code?: string | undefined;
  message?: string | undefined;
  category: string;
  provider: string;
  /** The failure class the classifier would give (policy/failure-class.ts). @default unknown, for class rules */
  class?: FailureClass | undefined;
  /** What the provider said, as the classifier's evidence. */
  evidence?: string | undefined;
}

export interface Explanation {
  readonly pipeline: string;
  readonly stage: string;
  readonly failure: ExplainedFailure;
  readonly decision: 'retry' | 'skip';
  /** skip reason, or retry-now / retry-at */
  readonly outcome: string;
  readonly decidedBy: string;
  readonly summary: string;
  /**
   * The failure's class and its evidence, when a class was given or a class rule could decide
   * (then, with no class given, `unknown`, as the function would see an unclassified failure).
   */
  readonly classification?: Classification | undefined;
}

/** `retryOn[0]` as explain names it: a class rule with its classes, the preset by its name. */
function ruleNames(label: string, retryOn: readonly FailureRule[] | undefined, neverRetryOn: readonly FailureRule[] | undefined): string {
  return label.replace(/\b(retryOn|neverRetryOn)\[(\d+)\]/g, (whole, list: string, index: string) => {
    const rules = list === 'retryOn' ? retryOn : neverRetryOn;
    const classes = rules?.[Number(index)]?.class;
    if (!classes) return whole;
    const preset = list === 'retryOn' && isTransientPreset(rules) ? ' "transient"' : '';
    return `${whole}${preset} (class ${classes.join(', ')})`;
  });
}

/**
 * Runs the real decision on a made-up first failure of one action, as if the stage had just
 * failed with it, and says which rule decided. Given a class (and evidence), the failure is
 * taken as classified so; without one, class rules see `unknown`, as for a failure whose
 * provider could not tell.
 */
export function explainFailure(pipeline: string, stage: string, context: PolicyContext, failed: ExplainedFailure, now: Date): Explanation {
  const resolved = resolvePolicy(context.layers);
  const actionName = `${failed.provider} ${failed.category} action`;
  const classification: Classification | undefined =
    failed.class !== undefined
      ? { class: failed.class, evidence: failed.evidence ?? 'given with --class' }
      : needsClassification(resolved.policy)
        ? { class: FailureClass.Unknown, evidence: 'no class given (--class): an unclassified failure is unknown' }
        : undefined;
  const classes = classification && new Map([[actionName, classification]]);
  const failure: StageFailure = {
    eventId: 'explain',
    account: '-',
    region: '-',
    pipeline,
    stage,
    executionId: 'explain',
    occurrence: 1,
    pipelineVersion: undefined,
    failedAt: now,
  };
  const view: StageView = {
    pipelineVersion: undefined,
    latestExecutionId: 'explain',
    status: 'Failed',
    onFailure: undefined,
    retryMetadata: undefined,
    actions: [
      {
        name: actionName,
        category: failed.category,
        provider: failed.provider,
        actionMode: undefined,
        status: ActionStatus.Failed,
        executionId: 'explain',
        errorCode: failed.code,
        errorMessage: failed.message,
        summary: undefined,
      },
    ],
  };
  const decision = decide(
    failure,
    view,
    resolved,
    // The shortest wait (the range is said below), except with full jitter, whose shortest is none.
    {
      paused: context.paused,
      ledger: { retries: 0, firstFailureAt: undefined },
      random: () => (resolved.policy.jitter === Jitter.Full ? 1 : 0),
      classes,
    },
    now,
  );
  const where = `${pipeline}/${stage}`;
  // The same filter the decision applied, asked directly for the rule that decided.
  const { retryOn, neverRetryOn } = resolved.policy;
  const verdict = applyFilters(view.actions, retryOn, neverRetryOn, undefined, classes);
  const rule = ruleNames(verdict.rule, retryOn, neverRetryOn);
  const { sources } = resolved;
  if (decision.kind === 'skip') {
    const decidedBy = (() => {
      switch (decision.reason) {
        case SkipReason.NeverRetryRule:
          return `${rule} of the ${sources.neverRetryOn} policy`;
        case SkipReason.NoRetryRuleMatch:
          return `retryOn of the ${sources.retryOn} policy (no rule matches)`;
        case SkipReason.ApprovalRejected:
          return 'built-in rule: rejected approvals are never retried (override with overrideBuiltIns)';
        case SkipReason.Paused:
          return 'the pause switch (autoretry resume)';
        default:
          return decision.reason;
      }
    })();
    return {
      pipeline,
      stage,
      failure: failed,
      decision: 'skip',
      outcome: decision.reason,
      decidedBy,
      summary: `${where}: would NOT retry — ${decision.reason}: ${decision.detail}`,
      classification,
    };
  }
  const when = decision.kind === 'retry-now' ? 'at once' : `after ${firstWait(resolved.policy)}`;
  const decidedBy = retryOn ? `${rule} of the ${sources.retryOn} policy` : 'no failure filter: any failure is retried';
  return {
    pipeline,
    stage,
    failure: failed,
    decision: 'retry',
    outcome: decision.kind,
    decidedBy,
    summary: `${where}: would retry ${when} with ${decision.retryMode}, up to ${resolved.policy.maxRetries} times (${decision.reason})`,
    classification,
  };
}

/**
 * The first wait as a range: the cooldown, and how far jitter may stretch it (`spread` adds up to
 * a quarter, `full` picks anything up to it), e.g. "2m (up to 2m30s with jitter)".
 */
function firstWait(policy: RetryPolicy): string {
  const shortest = retryDelaySeconds(policy, 1, () => 0);
  const longest = retryDelaySeconds(policy, 1, () => 1);
  if (policy.jitter === Jitter.Full)
    return `up to ${humanDuration(retryDelaySeconds({ ...policy, jitter: Jitter.None }, 1, () => 0))} (full jitter)`;
  if (shortest === longest) return humanDuration(shortest);
  return `${humanDuration(shortest)} (up to ${humanDuration(longest)} with jitter)`;
}

/** 150 → "2m30s", 3600 → "1h", 45 → "45s". */
function humanDuration(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.round(seconds);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join('');
}
