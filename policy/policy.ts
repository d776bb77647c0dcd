import { formatDuration, parseDuration } from './duration';
import { type FailureRule, type RegexCheck, type RuleListKind, validateRules } from './rules';
import { keyPath, show } from './show';

/** How RetryStageExecution re-runs the stage. */
export const RetryMode = {
  FailedActions: 'FAILED_ACTIONS',
  AllActions: 'ALL_ACTIONS',
} as const;
export type RetryMode = (typeof RetryMode)[keyof typeof RetryMode];
export const RETRY_MODES: readonly RetryMode[] = Object.values(RetryMode);

export const PolicyMode = { Enforce: 'enforce', Observe: 'observe' } as const;
export type PolicyMode = (typeof PolicyMode)[keyof typeof PolicyMode];
export const POLICY_MODES: readonly PolicyMode[] = Object.values(PolicyMode);

/**
 * How waits are spread so failures that happened together are not retried in lock-step:
 * `spread` adds a random share of up to a quarter of the wait (never less than it), `full`
 * waits a random time between 0 and the wait, `none` waits exactly.
 */
export const Jitter = { None: 'none', Spread: 'spread', Full: 'full' } as const;
/** The share of a wait that `spread` may add. */
export const SPREAD_SHARE = 0.25;
export type Jitter = (typeof Jitter)[keyof typeof Jitter];
export const JITTERS: readonly Jitter[] = Object.values(Jitter);

/** Built-in rules a policy may switch off by name. */
export const BuiltInRule = {
  ApprovalRejected: 'approval-rejected',
  StageStopped: 'stage-stopped',
  /** After our retry, the same tests failed again: stop retrying that failure. */
  SameTestsFailed: 'same-tests-failed',
} as const;
export type BuiltInRule = (typeof BuiltInRule)[keyof typeof BuiltInRule];
export const BUILT_IN_RULES: readonly BuiltInRule[] = Object.values(BuiltInRule);

/** A per-pipeline circuit breaker: at most `maxRetries` automatic retries in any `windowSeconds`. */
export interface RetryBudget {
  readonly maxRetries: number;
  readonly windowSeconds: number;
}

/** The effective retry policy of one stage. */
export interface RetryPolicy {
  /** Automatic RetryStageExecution calls per (pipeline, stage, pipeline execution). */
  readonly maxRetries: number;
  /** Seconds to wait after the failure before the first retry; 0 retries at once. */
  readonly cooldownSeconds: number;
  /** Each further retry waits `backoff` times longer than the one before (1 = constant). */
  readonly backoff: number;
  /** No wait is longer than this, whatever the backoff. */
  readonly maxCooldownSeconds: number;
  /** How waits are spread (see Jitter). */
  readonly jitter: Jitter;
  /** No automatic retry once this long has passed since the stage first failed in the execution. */
  readonly maxRetryWindowSeconds: number | undefined;
  readonly retryMode: RetryMode;
  /** `observe` decides, logs and records, but never calls RetryStageExecution: for a safe roll-out. */
  readonly mode: PolicyMode;
  /** Retry only failures that match one of these rules (none: any failure); the preset "transient" is read as one class rule. */
  readonly retryOn: readonly FailureRule[] | undefined;
  /** Never retry failures that match one of these; wins over retryOn. */
  readonly neverRetryOn: readonly FailureRule[] | undefined;
  /** Count native (onFailure) and hand-made retries against maxRetries, not only ours. */
  readonly countManualRetries: boolean;
  /** Per-pipeline retry budget; only pipeline and default policies may set it. */
  readonly budget: RetryBudget | undefined;
  /** Built-in rules switched off for this scope. */
  readonly overrideBuiltIns: readonly BuiltInRule[];
}

/** One layer of policy (default, pipeline or stage): any field may be left to the layer below. */
export type PolicyPatch = { -readonly [K in keyof RetryPolicy]?: RetryPolicy[K] };

export const POLICY_FIELDS = [
  'maxRetries',
  'cooldownSeconds',
  'backoff',
  'maxCooldownSeconds',
  'jitter',
  'maxRetryWindowSeconds',
  'retryMode',
  'mode',
  'retryOn',
  'neverRetryOn',
  'countManualRetries',
  'budget',
  'overrideBuiltIns',
] as const satisfies readonly (keyof RetryPolicy)[];

export const MAX_RETRIES_LIMIT = 10;
/** Twelve hours: longer waits belong to a human, and the ledger lease must outlive them. */
export const MAX_COOLDOWN_SECONDS = 12 * 3600;
export const MAX_RETRY_WINDOW_SECONDS = 7 * 86_400;

/** What applies when neither the table nor cdk.json says anything. */
export const BUILT_IN_POLICY: RetryPolicy = {
  maxRetries: 2,
  cooldownSeconds: 0,
  backoff: 1,
  maxCooldownSeconds: MAX_COOLDOWN_SECONDS,
  jitter: Jitter.Spread,
  maxRetryWindowSeconds: undefined,
  retryMode: RetryMode.FailedActions,
  mode: PolicyMode.Enforce,
  retryOn: undefined,
  neverRetryOn: undefined,
  countManualRetries: false,
  budget: undefined,
  overrideBuiltIns: [],
};

export const PolicyLayer = {
  BuiltIn: 'built-in',
  Default: 'default',
  /** An account's defaults (organization deployments). */
  Account: 'account',
  Pipeline: 'pipeline',
  Stage: 'stage',
} as const;
export type PolicyLayer = (typeof PolicyLayer)[keyof typeof PolicyLayer];

export interface PolicyLayers {
  readonly default?: PolicyPatch | undefined;
  readonly account?: PolicyPatch | undefined;
  readonly pipeline?: PolicyPatch | undefined;
  readonly stage?: PolicyPatch | undefined;
}

export interface ResolvedPolicy {
  readonly policy: RetryPolicy;
  /** Which layer each field came from, so operators can see why a value applies. */
  readonly sources: { readonly [K in keyof RetryPolicy]: PolicyLayer };
}

/** Field by field, stage over pipeline over account over default over the built-in policy. */
export function resolvePolicy(layers: PolicyLayers): ResolvedPolicy {
  const policy: Record<string, unknown> = {};
  const sources: Record<string, PolicyLayer> = {};
  for (const field of POLICY_FIELDS) {
    const found = (
      [
        [PolicyLayer.Stage, layers.stage],
        [PolicyLayer.Pipeline, layers.pipeline],
        [PolicyLayer.Account, layers.account],
        [PolicyLayer.Default, layers.default],
      ] as const
    ).find(([, patch]) => patch?.[field] !== undefined);
    policy[field] = found ? found[1]?.[field] : BUILT_IN_POLICY[field];
    sources[field] = found ? found[0] : PolicyLayer.BuiltIn;
  }
  return { policy: policy as unknown as RetryPolicy, sources: sources as ResolvedPolicy['sources'] };
}

/**
 * How a raw policy is spelled where it comes from. A table item uses the field names and holds
 * durations in seconds; cdk.json and the CLI (policy/config.ts) use their own key names and
 * duration strings such as "5m", and say so here.
 */
export interface PolicySyntax {
  /** The key a field is stored under. @default the field's own name */
  readonly keyOf?: (field: keyof RetryPolicy) => string;
  /** Reads a duration as seconds; undefined when it is not one. @default whole seconds */
  readonly seconds?: (value: unknown) => number | undefined;
  /** The key of a budget's window. @default windowSeconds */
  readonly budgetWindowKey?: string;
  /** Refuses regular expressions that can backtrack catastrophically. @default no check (the function bounds the input instead) */
  readonly regexCheck?: RegexCheck;
  /** The key of a rule's failure classes. @default class (the construct's props say failureClasses) */
  readonly ruleClassKey?: string;
}

const STORED: Required<Omit<PolicySyntax, 'regexCheck'>> = {
  keyOf: (field) => field,
  seconds: (v) => (typeof v === 'number' ? parseDuration(v) : undefined),
  budgetWindowKey: 'windowSeconds',
  ruleClassKey: 'class',
};

/**
 * Validates a raw policy object (a table item, or cdk.json or CLI flags through policy/config.ts).
 * `path` prefixes each message so it names the key: `autoRetry.pipelines.web-app.maxRetries
 * must be …, got -1`. Returns the patch and every problem found, so callers can report all of
 * them at once.
 */
export function validatePolicyPatch(
  raw: Record<string, unknown>,
  path: string,
  syntax: PolicySyntax = {},
): { patch: PolicyPatch; problems: string[] } {
  const { keyOf, seconds, budgetWindowKey, regexCheck, ruleClassKey } = { ...STORED, ...syntax };
  type Parsed<T> = { value: T } | { problems: string[] };
  const ok = <T>(value: T): Parsed<T> => ({ value });
  const fail = (...problems: string[]): Parsed<never> => ({ problems });
  const problems: string[] = [];
  const patch: PolicyPatch = {};
  const key = keyOf;
  const take = <K extends keyof RetryPolicy>(field: K, parse: (v: unknown, where: string) => Parsed<RetryPolicy[K]>): void => {
    const value = raw[key(field)];
    if (value === undefined) return;
    const parsed = parse(value, `${path}.${key(field)}`);
    if ('value' in parsed) patch[field] = parsed.value;
    else problems.push(...parsed.problems);
  };
  const duration = (max: number, maxText: string) => (v: unknown, where: string) => {
    const s = seconds(v);
    return s === undefined || s > max
      ? fail(`${where} must be a duration from 0 to ${maxText} (0, 45s, 5m, 2h or whole seconds), got ${show(v)}`)
      : ok(s);
  };
  const oneOf =
    <T extends string>(allowed: readonly T[]) =>
    (v: unknown, where: string) =>
      typeof v === 'string' && (allowed as readonly string[]).includes(v)
        ? ok(v as T)
        : fail(`${where} must be one of ${allowed.join(', ')}, got ${show(v)}`);
  const rules = (list: RuleListKind) => (v: unknown, where: string) => {
    const result = validateRules(v, where, regexCheck, { list, classKey: ruleClassKey });
    return result.problems.length > 0 ? fail(...result.problems) : ok(result.rules);
  };

  take('maxRetries', (v, where) =>
    typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_RETRIES_LIMIT
      ? ok(v)
      : fail(`${where} must be an integer from 0 to ${MAX_RETRIES_LIMIT}, got ${show(v)}`),
  );
  take('cooldownSeconds', duration(MAX_COOLDOWN_SECONDS, '12h'));
  take('maxCooldownSeconds', duration(MAX_COOLDOWN_SECONDS, '12h'));
  take('maxRetryWindowSeconds', duration(MAX_RETRY_WINDOW_SECONDS, '7d'));
  take('backoff', (v, where) =>
    typeof v === 'number' && Number.isFinite(v) && v >= 1 && v <= 10
      ? ok(v)
      : fail(`${where} must be a number from 1 to 10, got ${show(v)}`),
  );
  take('jitter', oneOf(JITTERS));
  take('retryMode', oneOf(RETRY_MODES));
  take('mode', oneOf(POLICY_MODES));
  take('countManualRetries', (v, where) => (typeof v === 'boolean' ? ok(v) : fail(`${where} must be true or false, got ${show(v)}`)));
  take('retryOn', rules('retryOn'));
  take('neverRetryOn', rules('neverRetryOn'));
  take('overrideBuiltIns', (v, where) =>
    Array.isArray(v) && v.every((x) => typeof x === 'string' && (BUILT_IN_RULES as readonly string[]).includes(x))
      ? ok(v as BuiltInRule[])
      : fail(`${where} must be a list of ${BUILT_IN_RULES.join(', ')}, got ${show(v)}`),
  );
  take('budget', (v, where) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      return fail(`${where} must be an object { maxRetries, window }, got ${show(v)}`);
    }
    const b = v as Record<string, unknown>;
    const windowKey = budgetWindowKey;
    const unknown = Object.keys(b).filter((k) => k !== 'maxRetries' && k !== windowKey);
    if (unknown.length > 0) return fail(`${keyPath(where, unknown[0] ?? '')} is not a known setting (expected maxRetries, ${windowKey})`);
    const max = b.maxRetries;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 1000) {
      return fail(`${where}.maxRetries must be an integer from 1 to 1000, got ${show(max)}`);
    }
    const window = seconds(b[windowKey]);
    if (window === undefined || window < 60 || window > MAX_RETRY_WINDOW_SECONDS) {
      return fail(`${where}.${windowKey} must be a duration from 1m to 7d, got ${show(b[windowKey])}`);
    }
    return ok({ maxRetries: max, windowSeconds: window });
  });
  // Settings that contradict each other within one policy.
  if (patch.cooldownSeconds !== undefined && patch.maxCooldownSeconds !== undefined && patch.cooldownSeconds > patch.maxCooldownSeconds) {
    problems.push(
      `${path}.${key('cooldownSeconds')} (${formatDuration(patch.cooldownSeconds)}) is longer than ${path}.${key('maxCooldownSeconds')} ` +
        `(${formatDuration(patch.maxCooldownSeconds)}): every wait would be cut to ${formatDuration(patch.maxCooldownSeconds)}`,
    );
  }
  return { patch, problems };
}

/** CodePipeline's rule for pipeline, stage and action names. */
export const NAME_PATTERN = /^[A-Za-z0-9.@\-_]{1,100}$/;
