import type { Command } from 'commander';
import { Option } from 'commander';
import { validateConfigPolicy } from '../policy/config';
import { formatDuration } from '../policy/duration';
import { InvalidInputError } from '../policy/errors';
import { TRANSIENT_PRESET } from '../policy/failure-class';
import { BUILT_IN_RULES, JITTERS, POLICY_MODES, type PolicyPatch, RETRY_MODES } from '../policy/policy';
import { type FailureRule, isTransientPreset } from '../policy/rules';

/** `policy set` flags as commander hands them over: strings, to be validated here. */
export interface PolicyFlags {
  maxRetries?: string;
  cooldown?: string;
  backoff?: string;
  maxCooldown?: string;
  jitter?: string;
  maxRetryWindow?: string;
  retryMode?: string;
  mode?: string;
  retryOn?: string;
  neverRetryOn?: string;
  countManualRetries?: string;
  budget?: string;
  overrideBuiltIns?: string;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function addPolicyFlags(command: Command): Command {
  return command
    .option('--max-retries <n>', 'automatic retries per stage execution, 0-10')
    .option('--cooldown <duration>', 'wait before the first retry: 0, 45s, 5m, 2h or seconds (max 12h)')
    .option('--backoff <factor>', 'each further retry waits this many times longer, 1-10')
    .option('--max-cooldown <duration>', 'no wait longer than this (max 12h)')
    .addOption(new Option('--jitter <kind>', 'random share of each wait').choices([...JITTERS]))
    .option('--max-retry-window <duration>', 'no retry once this long after the stage first failed (max 7d)')
    .addOption(new Option('--retry-mode <mode>', 'what a retry re-runs').choices([...RETRY_MODES]))
    .addOption(new Option('--mode <mode>', 'observe: decide and record but never retry').choices([...POLICY_MODES]))
    .option(
      '--retry-on <json>',
      'retry only failures matching these rules, e.g. \'[{"category":"Test","message":"timed out"}]\' or \'{"class":["timeout"]}\', ' +
        'or "transient" (infrastructure, timeout and throttled failures)',
    )
    .option('--never-retry-on <json>', 'never retry failures matching these rules (wins over --retry-on)')
    .addOption(new Option('--count-manual-retries <bool>', "count CodePipeline's own and hand-made retries").choices(['true', 'false']))
    .option('--budget <n/window>', 'per-pipeline circuit breaker, e.g. 10/1h: at most 10 retries in any hour')
    .option('--override-built-ins <rules>', `comma-separated built-in rules to switch off: ${BUILT_IN_RULES.join(', ')}`);
}

/** A rules flag: JSON (one rule or a list), or the preset's name, left for validation to place. */
function parseJsonRules(value: string, flag: string): unknown {
  if (value.trim() === TRANSIENT_PRESET) return TRANSIENT_PRESET;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidInputError(
      `${flag} must be JSON: a rule object or a list of them, got ${JSON.stringify(value)} (or "${TRANSIENT_PRESET}", the preset)`,
    );
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** Parses `policy set` flags into a validated patch; any bad value is one InvalidInputError. */
export function patchFromFlags(flags: PolicyFlags): PolicyPatch {
  const raw: Record<string, unknown> = {};
  const number = (v: string) => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);
  if (flags.maxRetries !== undefined) raw.maxRetries = number(flags.maxRetries);
  if (flags.backoff !== undefined) raw.backoff = number(flags.backoff);
  for (const key of ['cooldown', 'maxCooldown', 'maxRetryWindow', 'jitter', 'retryMode', 'mode'] as const) {
    if (flags[key] !== undefined) raw[key] = flags[key];
  }
  if (flags.retryOn !== undefined) raw.retryOn = parseJsonRules(flags.retryOn, '--retry-on');
  if (flags.neverRetryOn !== undefined) raw.neverRetryOn = parseJsonRules(flags.neverRetryOn, '--never-retry-on');
  if (flags.countManualRetries !== undefined) raw.countManualRetries = flags.countManualRetries === 'true';
  if (flags.overrideBuiltIns !== undefined) raw.overrideBuiltIns = flags.overrideBuiltIns.split(',').map((r) => r.trim());
  if (flags.budget !== undefined) {
    const match = /^(\d+)\/(.+)$/.exec(flags.budget);
    if (!match) throw new InvalidInputError(`--budget must be <retries>/<window>, such as 10/1h, got "${flags.budget}"`);
    raw.budget = { maxRetries: Number(match[1]), window: match[2] };
  }
  const { patch, problems } = validateConfigPolicy(raw, 'flag');
  const first = problems[0];
  if (first) throw new InvalidInputError(first.replace(/flag\.([A-Za-z]+)/g, (_m, key: string) => `--${kebab(key)}`));
  if (Object.keys(patch).length === 0) {
    throw new InvalidInputError('nothing to set: give at least one policy flag, such as --max-retries, --cooldown or --retry-on');
  }
  return patch;
}

/** Rules as an operator would write them: the preset by its name, one-element lists as their element. */
export function describeRules(rules: readonly FailureRule[]): string {
  if (isTransientPreset(rules)) return TRANSIENT_PRESET;
  return JSON.stringify(
    rules.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.isArray(v) && v.length === 1 ? v[0] : v]))),
  );
}

/** One line naming the fields a patch sets, as an operator would write them. */
export function describePatch(patch: PolicyPatch): string {
  const parts: string[] = [];
  if (patch.maxRetries !== undefined) parts.push(`maxRetries=${patch.maxRetries}`);
  if (patch.cooldownSeconds !== undefined) parts.push(`cooldown=${formatDuration(patch.cooldownSeconds)}`);
  if (patch.backoff !== undefined) parts.push(`backoff=${patch.backoff}`);
  if (patch.maxCooldownSeconds !== undefined) parts.push(`maxCooldown=${formatDuration(patch.maxCooldownSeconds)}`);
  if (patch.jitter !== undefined) parts.push(`jitter=${patch.jitter}`);
  if (patch.maxRetryWindowSeconds !== undefined) parts.push(`maxRetryWindow=${formatDuration(patch.maxRetryWindowSeconds)}`);
  if (patch.retryMode !== undefined) parts.push(`retryMode=${patch.retryMode}`);
  if (patch.mode !== undefined) parts.push(`mode=${patch.mode}`);
  if (patch.retryOn !== undefined) parts.push(`retryOn=${describeRules(patch.retryOn)}`);
  if (patch.neverRetryOn !== undefined) parts.push(`neverRetryOn=${describeRules(patch.neverRetryOn)}`);
  if (patch.countManualRetries !== undefined) parts.push(`countManualRetries=${patch.countManualRetries}`);
  if (patch.budget !== undefined) parts.push(`budget=${patch.budget.maxRetries}/${formatDuration(patch.budget.windowSeconds)}`);
  if (patch.overrideBuiltIns !== undefined) parts.push(`overrideBuiltIns=${patch.overrideBuiltIns.join(',') || 'none'}`);
  return parts.join(', ');
}

/** A resolved field's value as text, for `policy get`. */
export function describeValue(field: keyof PolicyPatch, value: unknown): string {
  if (value === undefined) return '-';
  const text = describePatch({ [field]: value } as PolicyPatch);
  return text.slice(text.indexOf('=') + 1);
}
