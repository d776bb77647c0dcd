import { Duration } from 'aws-cdk-lib';
import { accountPipeline } from '../contract';
import { CONFIG_POLICY_SYNTAX } from '../policy/config';
import { parseDuration } from '../policy/duration';
import type { PolicyPatch, PolicySyntax } from '../policy/policy';
import type { FailureRule } from '../policy/rules';
import type { PolicySeed } from '../policy/scope';
import type {
  BuiltInRetryRule,
  FailureClassName,
  PipelineAutoRetryProps,
  PipelineRetryPolicyProps,
  RetryJitter,
  RetryPolicyMode,
  RetryPolicyProps,
  StageRetryMode,
} from './props';

/**
 * Between the construct's policy props and the policies the deploy stores, both ways: props to
 * the raw policies policy/ validates (`Duration`s as seconds, under the same keys), and stored
 * policies (seeds) back to props. Validation is not here: resolveProps (lib/policies.ts) and
 * readConfig (policy/config.ts) check, through policy/policy-tree.ts.
 */

/**
 * How props spell a policy: the cdk.json keys, durations already turned into whole seconds here,
 * and a rule's classes as `failureClasses` (`class` is a reserved word in jsii's languages).
 */
export const PROPS_POLICY_SYNTAX = {
  ...CONFIG_POLICY_SYNTAX,
  seconds: (v) => (typeof v === 'number' ? parseDuration(v) : undefined),
  ruleClassKey: 'failureClasses',
} as const satisfies PolicySyntax;

/** A `Duration`, as whole seconds when it is one; anything else is passed on for the validator to name. */
export function secondsOf(value: Duration | undefined): unknown {
  if (value === undefined) return undefined;
  const d = value as Partial<Duration>;
  return typeof d.toSeconds === 'function' ? d.toSeconds({ integral: false }) : value;
}

/** One policy of the props as policy/ reads it: the same keys, durations in seconds, nothing undefined. */
export function rawOfPolicyProps(props: RetryPolicyProps | PipelineRetryPolicyProps): Record<string, unknown> {
  const raw: Record<string, unknown> = {
    ...props,
    cooldown: secondsOf(props.cooldown),
    maxCooldown: secondsOf(props.maxCooldown),
    maxRetryWindow: secondsOf(props.maxRetryWindow),
    budget: props.budget ? { maxRetries: props.budget.maxRetries, window: secondsOf(props.budget.window) } : undefined,
  };
  if ('stages' in props && props.stages) {
    raw.stages = Object.fromEntries(Object.entries(props.stages).map(([stage, p]) => [stage, rawOfPolicyProps(p)]));
  }
  return withoutUndefined(raw);
}

/** The policy tree of the props (default, accounts, pipelines with stages), in policy/'s terms. */
export function rawPoliciesOfProps(props: PipelineAutoRetryProps): {
  default: Record<string, unknown> | undefined;
  accounts: Record<string, unknown> | undefined;
  pipelines: Record<string, unknown> | undefined;
} {
  const each = (map: Readonly<Record<string, RetryPolicyProps>> | undefined) =>
    map && Object.fromEntries(Object.entries(map).map(([key, policy]) => [key, rawOfPolicyProps(policy)]));
  return {
    default: props.defaultPolicy && rawOfPolicyProps(props.defaultPolicy),
    accounts: each(props.accounts),
    pipelines: each(props.pipelines),
  };
}

/** A stored policy in the props' terms: `Duration`s and enums. */
export function policyPropsOfPatch(patch: PolicyPatch): RetryPolicyProps {
  const duration = (s: number | undefined) => (s === undefined ? undefined : Duration.seconds(s));
  const rules = (list: readonly FailureRule[] | undefined) =>
    list?.map((r) =>
      withoutUndefined({
        code: r.code && [...r.code],
        message: r.message,
        category: r.category && [...r.category],
        provider: r.provider && [...r.provider],
        failureClasses: r.class && ([...r.class] as FailureClassName[]),
      }),
    );
  return withoutUndefined({
    maxRetries: patch.maxRetries,
    cooldown: duration(patch.cooldownSeconds),
    backoff: patch.backoff,
    maxCooldown: duration(patch.maxCooldownSeconds),
    jitter: patch.jitter as RetryJitter | undefined,
    maxRetryWindow: duration(patch.maxRetryWindowSeconds),
    retryMode: patch.retryMode as StageRetryMode | undefined,
    mode: patch.mode as RetryPolicyMode | undefined,
    retryOn: rules(patch.retryOn),
    neverRetryOn: rules(patch.neverRetryOn),
    countManualRetries: patch.countManualRetries,
    budget: patch.budget ? { maxRetries: patch.budget.maxRetries, window: Duration.seconds(patch.budget.windowSeconds) } : undefined,
    overrideBuiltIns: patch.overrideBuiltIns ? ([...patch.overrideBuiltIns] as BuiltInRetryRule[]) : undefined,
  }) as RetryPolicyProps;
}

/**
 * Stored policies back into the props' nesting: the default, account defaults, and pipelines
 * (keyed `<pipeline>` or `<account>/<pipeline>`) with their stages. `pipelineKeys` are pipelines
 * named without a policy of their own, kept (as `{}`) for their metric dimension.
 */
export function policyPropsOfSeeds(
  seeds: readonly PolicySeed[],
  pipelineKeys: readonly string[] = [],
): Pick<PipelineAutoRetryProps, 'defaultPolicy' | 'accounts' | 'pipelines'> {
  let defaultPolicy: RetryPolicyProps | undefined;
  const accounts: Record<string, RetryPolicyProps> = {};
  const pipelines: Record<string, { -readonly [K in keyof PipelineRetryPolicyProps]: PipelineRetryPolicyProps[K] }> = {};
  for (const key of pipelineKeys) pipelines[key] = {};
  for (const { scope, patch } of seeds) {
    const policy = policyPropsOfPatch(patch);
    if (scope.kind === 'default') defaultPolicy = policy;
    else if (scope.kind === 'account') accounts[scope.account] = policy;
    else {
      const key = accountPipeline(scope.pipeline, scope.account);
      const entry = pipelines[key] ?? {};
      pipelines[key] =
        scope.kind === 'pipeline' ? { ...entry, ...policy } : { ...entry, stages: { ...entry.stages, [scope.stage]: policy } };
    }
  }
  return withoutUndefined({
    defaultPolicy,
    accounts: Object.keys(accounts).length > 0 ? accounts : undefined,
    pipelines: Object.keys(pipelines).length > 0 ? pipelines : undefined,
  });
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
