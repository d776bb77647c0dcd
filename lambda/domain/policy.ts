import { parseDuration } from './duration';
import { RETRY_MODES, RetryMode } from './types';

/** The effective retry policy of one stage. */
export interface RetryPolicy {
  /** Automatic RetryStageExecution calls per (pipeline, stage, pipeline execution). */
  readonly maxRetries: number;
  /** Seconds to wait after the failure before retrying; 0 retries at once. */
  readonly cooldownSeconds: number;
  readonly retryMode: RetryMode;
  /** `observe` decides, logs and records, but never calls RetryStageExecution: for a safe roll-out. */
  readonly mode: PolicyMode;
}

export const PolicyMode = { Enforce: 'enforce', Observe: 'observe' } as const;
export type PolicyMode = (typeof PolicyMode)[keyof typeof PolicyMode];
export const POLICY_MODES: readonly PolicyMode[] = Object.values(PolicyMode);

/** One layer of policy (default, pipeline or stage): any field may be left to the layer below. */
export type PolicyPatch = Partial<RetryPolicy>;

export const POLICY_FIELDS = ['maxRetries', 'cooldownSeconds', 'retryMode', 'mode'] as const satisfies readonly (keyof RetryPolicy)[];

export const MAX_RETRIES_LIMIT = 10;
/** Twelve hours: longer waits belong to a human, and the ledger lease must outlive them. */
export const MAX_COOLDOWN_SECONDS = 12 * 3600;

/** What applies when neither the table nor cdk.json says anything. */
export const BUILT_IN_POLICY: RetryPolicy = {
  maxRetries: 2,
  cooldownSeconds: 0,
  retryMode: RetryMode.FailedActions,
  mode: PolicyMode.Enforce,
};

export const PolicyLayer = {
  BuiltIn: 'built-in',
  Default: 'default',
  Pipeline: 'pipeline',
  Stage: 'stage',
} as const;
export type PolicyLayer = (typeof PolicyLayer)[keyof typeof PolicyLayer];

export interface PolicyLayers {
  readonly default?: PolicyPatch | undefined;
  readonly pipeline?: PolicyPatch | undefined;
  readonly stage?: PolicyPatch | undefined;
}

export interface ResolvedPolicy {
  readonly policy: RetryPolicy;
  /** Which layer each field came from, so operators can see why a value applies. */
  readonly sources: { readonly [K in keyof RetryPolicy]: PolicyLayer };
}

/** Field by field, stage over pipeline over default over the built-in policy. */
export function resolvePolicy(layers: PolicyLayers): ResolvedPolicy {
  const pick = <K extends keyof RetryPolicy>(field: K): [RetryPolicy[K], PolicyLayer] => {
    for (const [layer, patch] of [
      [PolicyLayer.Stage, layers.stage],
      [PolicyLayer.Pipeline, layers.pipeline],
      [PolicyLayer.Default, layers.default],
    ] as const) {
      const value = patch?.[field];
      if (value !== undefined) return [value as RetryPolicy[K], layer];
    }
    return [BUILT_IN_POLICY[field], PolicyLayer.BuiltIn];
  };
  const [maxRetries, maxRetriesFrom] = pick('maxRetries');
  const [cooldownSeconds, cooldownFrom] = pick('cooldownSeconds');
  const [retryMode, retryModeFrom] = pick('retryMode');
  const [mode, modeFrom] = pick('mode');
  return {
    policy: { maxRetries, cooldownSeconds, retryMode, mode },
    sources: { maxRetries: maxRetriesFrom, cooldownSeconds: cooldownFrom, retryMode: retryModeFrom, mode: modeFrom },
  };
}

/**
 * Validates a raw policy object (from cdk.json, a CLI flag set or a table item).
 * `path` prefixes each message so it names the key: `autoRetry.pipelines.web-app.maxRetries`.
 * Returns the patch and every problem found, so callers can report all of them at once.
 */
export function validatePolicyPatch(
  raw: Record<string, unknown>,
  path: string,
  opts: { cooldownKey?: string } = {},
): { patch: PolicyPatch; problems: string[] } {
  const problems: string[] = [];
  const patch: { -readonly [K in keyof RetryPolicy]?: RetryPolicy[K] } = {};
  const cooldownKey = opts.cooldownKey ?? 'cooldown';

  if (raw.maxRetries !== undefined) {
    const v = raw.maxRetries;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_RETRIES_LIMIT) {
      patch.maxRetries = v;
    } else {
      problems.push(`${path}.maxRetries must be an integer from 0 to ${MAX_RETRIES_LIMIT}, got ${show(v)}`);
    }
  }
  const cooldownRaw = raw[cooldownKey];
  if (cooldownRaw !== undefined) {
    const seconds = typeof cooldownRaw === 'string' || typeof cooldownRaw === 'number' ? parseDuration(cooldownRaw) : undefined;
    if (seconds === undefined || seconds > MAX_COOLDOWN_SECONDS) {
      problems.push(`${path}.${cooldownKey} must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got ${show(cooldownRaw)}`);
    } else {
      patch.cooldownSeconds = seconds;
    }
  }
  if (raw.retryMode !== undefined) {
    const v = raw.retryMode;
    if (typeof v === 'string' && (RETRY_MODES as readonly string[]).includes(v)) {
      patch.retryMode = v as RetryMode;
    } else {
      problems.push(`${path}.retryMode must be one of ${RETRY_MODES.join(', ')}, got ${show(v)}`);
    }
  }
  if (raw.mode !== undefined) {
    const v = raw.mode;
    if (typeof v === 'string' && (POLICY_MODES as readonly string[]).includes(v)) {
      patch.mode = v as PolicyMode;
    } else {
      problems.push(`${path}.mode must be one of ${POLICY_MODES.join(', ')}, got ${show(v)}`);
    }
  }
  return { patch, problems };
}

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** CodePipeline's rule for pipeline, stage and action names. */
export const NAME_PATTERN = /^[A-Za-z0-9.@\-_]{1,100}$/;
