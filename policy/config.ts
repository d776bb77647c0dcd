import {
  accountProblem,
  addProblem,
  booleanSetting,
  integerProblem,
  isObject,
  namePrefixProblem,
  notificationProblems,
  organizationProblems,
  pipelineNameProblem,
  regionProblem,
  unknownKeyProblems,
} from './checks';
import { parseDuration } from './duration';
import { ConfigurationError } from './errors';
import { type PolicyPatch, type PolicySyntax, type RetryPolicy, validatePolicyPatch } from './policy';
import { collectPolicies } from './policy-tree';
import { isSafeRegex } from './safe-regex';
import type { PolicySeed } from './scope';
import { show } from './show';

/**
 * The cdk.json syntax: the `autoRetry` block of the context, its keys, and how a policy is
 * spelled there (and in the CLI's flags): durations as strings such as "5m", `cooldown` for the
 * stored `cooldownSeconds`. Read once, validated in full, every problem named by its key path.
 * Needs no aws-cdk-lib: the CLI reads cdk.json with it, and lib/config.ts turns the result into
 * the construct's props.
 */

/** The key of each policy field in cdk.json, the CLI and the construct's props. */
export const CONFIG_KEYS: { readonly [K in keyof RetryPolicy]: string } = {
  maxRetries: 'maxRetries',
  cooldownSeconds: 'cooldown',
  backoff: 'backoff',
  maxCooldownSeconds: 'maxCooldown',
  jitter: 'jitter',
  maxRetryWindowSeconds: 'maxRetryWindow',
  retryMode: 'retryMode',
  mode: 'mode',
  retryOn: 'retryOn',
  neverRetryOn: 'neverRetryOn',
  countManualRetries: 'countManualRetries',
  budget: 'budget',
  overrideBuiltIns: 'overrideBuiltIns',
};

/** How cdk.json and the CLI spell a policy: their key names, durations such as "5m", a budget's `window`. */
export const CONFIG_POLICY_SYNTAX = {
  keyOf: (field) => CONFIG_KEYS[field],
  seconds: (v) => (typeof v === 'string' || typeof v === 'number' ? parseDuration(v) : undefined),
  budgetWindowKey: 'window',
  regexCheck: isSafeRegex,
} as const satisfies PolicySyntax;

/** Validates one policy as cdk.json or the CLI spells it. */
export function validateConfigPolicy(raw: Record<string, unknown>, path: string): { patch: PolicyPatch; problems: string[] } {
  return validatePolicyPatch(raw, path, CONFIG_POLICY_SYNTAX);
}

/** The `autoRetry` block of cdk.json context: what operators write. */
export interface AutoRetryConfig {
  readonly watch?: 'all' | readonly string[];
  readonly default?: Record<string, unknown>;
  readonly pipelines?: Readonly<Record<string, Record<string, unknown>>>;
  readonly ledgerRetentionDays?: number;
  readonly notifications?: { readonly emails?: readonly string[]; readonly slack?: { workspaceId: string; channelId: string } };
  readonly alarms?: { readonly exhaustedPerHour?: number };
  readonly metrics?: { readonly pipelineDimensions?: boolean };
  readonly accounts?: Readonly<Record<string, Record<string, unknown>>>;
  readonly organization?: OrganizationConfig;
  readonly namePrefix?: string;
  readonly classifyAllFailures?: boolean;
}

/** cdk.json's `organization`: where the central stack goes, and its members. */
export interface OrganizationConfig {
  readonly centralAccount: string;
  readonly centralRegion: string;
  readonly memberAccounts?: readonly string[] | undefined;
  readonly organizationId?: string | undefined;
  readonly memberRegions?: readonly string[] | undefined;
  readonly memberRoleName?: string | undefined;
}

/** Everything in a valid `autoRetry` block besides its policies, as cdk.json says it (durations in days or seconds). */
export interface ConfigSettings {
  /** The watched pipelines; undefined: every pipeline. */
  readonly watch: readonly string[] | undefined;
  /** Every key of `pipelines`, with or without a policy of its own (each gets a metric dimension). */
  readonly pipelineKeys: readonly string[];
  readonly ledgerRetentionDays: number | undefined;
  /** Present when cdk.json has a `notifications` block. */
  readonly notifications:
    | { readonly emails: readonly string[]; readonly slack: { readonly workspaceId: string; readonly channelId: string } | undefined }
    | undefined;
  readonly exhaustedPerHour: number | undefined;
  readonly pipelineDimensions: boolean | undefined;
  readonly organization: OrganizationConfig | undefined;
  /** The start of the fixed physical names; undefined: the default. */
  readonly namePrefix: string | undefined;
  /** Classify every failure from its provider, not only for class rules; undefined: off. */
  readonly classifyAllFailures: boolean | undefined;
}

/** A read `autoRetry` block: its settings and policies when `problems` is empty. */
export interface ReadConfig {
  readonly settings: ConfigSettings;
  readonly seeds: readonly PolicySeed[];
  readonly problems: readonly string[];
}

/** The sections of the `autoRetry` block. */
export const AUTO_RETRY_SECTIONS: readonly string[] = [
  'watch',
  'default',
  'pipelines',
  'accounts',
  'ledgerRetentionDays',
  'notifications',
  'alarms',
  'metrics',
  'organization',
  'namePrefix',
  'classifyAllFailures',
];
const ORGANIZATION_KEYS = ['centralAccount', 'centralRegion', 'memberAccounts', 'organizationId', 'memberRegions', 'memberRoleName'];

/**
 * Reads and validates the `autoRetry` configuration (cdk.json, or a bare autoRetry JSON file).
 * Every problem is collected; each names the key and the bad value, e.g.
 * `autoRetry.pipelines.web-app.maxRetries must be an integer from 0 to 10, got -1`.
 */
export function readConfig(raw: unknown, path = 'autoRetry'): ReadConfig {
  const problems: string[] = [];
  const config = raw ?? {};
  const settings: { -readonly [K in keyof ConfigSettings]: ConfigSettings[K] } = {
    watch: undefined,
    pipelineKeys: [],
    ledgerRetentionDays: undefined,
    notifications: undefined,
    exhaustedPerHour: undefined,
    pipelineDimensions: undefined,
    organization: undefined,
    namePrefix: undefined,
    classifyAllFailures: undefined,
  };
  if (!isObject(config)) return { settings, seeds: [], problems: [`${path} must be an object, got ${show(raw)}`] };
  problems.push(...unknownKeyProblems(config, AUTO_RETRY_SECTIONS, path));

  if (config.watch !== undefined && config.watch !== 'all') {
    if (!Array.isArray(config.watch) || config.watch.length === 0) {
      problems.push(`${path}.watch must be "all" or a non-empty list of pipeline names, got ${show(config.watch)}`);
    } else {
      const watch: string[] = [];
      config.watch.forEach((name, i) => {
        const problem = pipelineNameProblem(name, `${path}.watch[${i}]`);
        if (problem) problems.push(problem);
        else watch.push(name as string);
      });
      settings.watch = watch;
    }
  }

  const policies = collectPolicies(
    {
      path,
      defaultKey: 'default',
      default: config.default,
      accounts: config.accounts,
      pipelines: config.pipelines,
      watched: settings.watch ? { names: settings.watch, key: 'watch' } : undefined,
    },
    { syntax: CONFIG_POLICY_SYNTAX, keys: 'strict' },
  );
  problems.push(...policies.problems);
  if (isObject(config.pipelines)) settings.pipelineKeys = Object.keys(config.pipelines);

  const retention = config.ledgerRetentionDays;
  if (retention !== undefined) {
    const problem = integerProblem(retention, `${path}.ledgerRetentionDays`, 1, 3650);
    if (problem) problems.push(problem);
    else settings.ledgerRetentionDays = retention as number;
  }

  const notifications = section(config, 'notifications', ['emails', 'slack'], path, problems, 'an object with emails and/or slack');
  if (notifications) {
    const where = `${path}.notifications`;
    const list = notifications.emails;
    let emails: unknown[] = [];
    if (list !== undefined) {
      if (!Array.isArray(list)) problems.push(`${where}.emails must be a list of email addresses, got ${show(list)}`);
      else emails = list;
    }
    const s = section(notifications, 'slack', ['workspaceId', 'channelId'], where, problems, 'an object { workspaceId, channelId }');
    const found = notificationProblems(emails, s ? { workspaceId: s.workspaceId, channelId: s.channelId } : undefined, where);
    problems.push(...found);
    settings.notifications = {
      emails: emails.filter((e): e is string => typeof e === 'string'),
      slack: s ? { workspaceId: String(s.workspaceId), channelId: String(s.channelId) } : undefined,
    };
  }

  const alarms = section(config, 'alarms', ['exhaustedPerHour'], path, problems);
  if (alarms?.exhaustedPerHour !== undefined) {
    const problem = integerProblem(alarms.exhaustedPerHour, `${path}.alarms.exhaustedPerHour`, 1, 10_000);
    if (problem) problems.push(problem);
    else settings.exhaustedPerHour = alarms.exhaustedPerHour as number;
  }

  const metrics = section(config, 'metrics', ['pipelineDimensions'], path, problems);
  settings.pipelineDimensions = booleanSetting(metrics?.pipelineDimensions, `${path}.metrics.pipelineDimensions`, problems);
  settings.classifyAllFailures = booleanSetting(config.classifyAllFailures, `${path}.classifyAllFailures`, problems);

  const org = section(
    config,
    'organization',
    ORGANIZATION_KEYS,
    path,
    problems,
    'an object with centralAccount, centralRegion and memberAccounts or organizationId',
  );
  if (org) settings.organization = organizationOf(org, `${path}.organization`, problems);

  if (config.namePrefix !== undefined) {
    const problem = namePrefixProblem(config.namePrefix, `${path}.namePrefix`);
    if (problem) problems.push(problem);
    else settings.namePrefix = config.namePrefix as string;
  }

  return { settings, seeds: policies.seeds, problems };
}

/** The policies of an `autoRetry` block, for the CLI and the sandbox: the seeds, or every problem in the block. */
export function policiesFromConfig(raw: unknown, path = 'autoRetry'): { seeds: readonly PolicySeed[]; problems: readonly string[] } {
  const { seeds, problems } = readConfig(raw, path);
  return { seeds, problems };
}

/** Like readConfig, but throws one ConfigurationError carrying every problem. */
export function readConfigOrThrow(raw: unknown, path = 'autoRetry'): ReadConfig {
  const read = readConfig(raw, path);
  if (read.problems.length > 0) throw new ConfigurationError(read.problems);
  return read;
}

function organizationOf(org: Record<string, unknown>, where: string, problems: string[]): OrganizationConfig {
  addProblem(problems, accountProblem(org.centralAccount, `${where}.centralAccount`, 'the 12-digit account of the central stack'));
  addProblem(problems, regionProblem(org.centralRegion, `${where}.centralRegion`, 'the region of the central stack, such as us-east-1'));
  const before = problems.length;
  const lists: Record<string, string[] | undefined> = {};
  for (const key of ['memberAccounts', 'memberRegions'] as const) {
    const value = org[key];
    if (value === undefined) continue;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) lists[key] = value as string[];
    else problems.push(`${where}.${key} must be a list of strings, got ${show(value)}`);
  }
  const strings: Record<string, string | undefined> = {};
  for (const key of ['organizationId', 'memberRoleName'] as const) {
    const value = org[key];
    if (value === undefined) continue;
    if (typeof value === 'string') strings[key] = value;
    else problems.push(`${where}.${key} must be a string, got ${show(value)}`);
  }
  const members = {
    memberAccounts: lists.memberAccounts,
    organizationId: strings.organizationId,
    memberRegions: lists.memberRegions,
    memberRoleName: strings.memberRoleName,
  };
  // Members are checked only once their shapes are right, so each problem is named once.
  if (problems.length === before) problems.push(...organizationProblems(members, where));
  return { centralAccount: String(org.centralAccount), centralRegion: String(org.centralRegion), ...members };
}

/**
 * An optional object-valued setting `parent[key]`: undefined when absent or not an object (the
 * latter reported), with unknown keys reported.
 */
function section(
  parent: Record<string, unknown>,
  key: string,
  allowed: string[],
  path: string,
  problems: string[],
  shape = 'an object',
): Record<string, unknown> | undefined {
  const value = parent[key];
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    problems.push(`${path}.${key} must be ${shape}, got ${show(value)}`);
    return undefined;
  }
  problems.push(...unknownKeyProblems(value, allowed, `${path}.${key}`));
  return value;
}
