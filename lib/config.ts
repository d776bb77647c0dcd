import { Duration } from 'aws-cdk-lib';
import type { Location } from '../contract';
import {
  accountProblem,
  emailProblem,
  integerProblem,
  isObject,
  pipelineKeyProblem,
  pipelineNameProblem,
  regionProblem,
  slackProblems,
  stageKeyProblem,
  unknownKeyProblems,
} from '../policy/checks';
import { parseDuration } from '../policy/duration';
import { ConfigurationError } from '../policy/errors';
import { type PolicyPatch, type PolicySyntax, type RetryPolicy, validatePolicyPatch } from '../policy/policy';
import type { FailureRule } from '../policy/rules';
import { isSafeRegex } from '../policy/safe-regex';
import { keyPath, show } from '../policy/show';
import type {
  BuiltInRetryRule,
  OrganizationProps,
  PipelineAutoRetryProps,
  PipelineRetryPolicyProps,
  RetryJitter,
  RetryPolicyMode,
  RetryPolicyProps,
  StageRetryMode,
} from './props';

/**
 * The cdk.json syntax: the `autoRetry` block of the context, its keys, and how a policy is spelled
 * there (and in the CLI's flags): durations as strings such as "5m", `cooldown` for the stored
 * `cooldownSeconds`. Validated in full, every problem named by its key path, then turned into
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
export const POLICY_KEYS: readonly string[] = Object.values(CONFIG_KEYS);

/** How cdk.json and the CLI spell a policy: their key names, durations such as "5m", a budget's `window`. */
export const CONFIG_POLICY_SYNTAX: PolicySyntax = {
  keyOf: (field) => CONFIG_KEYS[field],
  seconds: (v) => (typeof v === 'string' || typeof v === 'number' ? parseDuration(v) : undefined),
  budgetWindowKey: 'window',
  regexCheck: isSafeRegex,
};

/** Validates one policy as cdk.json or the CLI spells it. */
export function validateConfigPolicy(raw: Record<string, unknown>, path: string): { patch: PolicyPatch; problems: string[] } {
  return validatePolicyPatch(raw, path, CONFIG_POLICY_SYNTAX);
}

/** Distance between two words: insertions, deletions and substitutions (for spotting misspellings). */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** Where the configuration came from, for messages: a cdk.json object, or a JSON string (`-c autoRetry='{…}'`). */
export type ConfigOrigin = 'cdk.json' | 'context string';

/**
 * The `autoRetry` configuration from the app's whole context. A context value given as a JSON
 * string (`cdk synth -c autoRetry='{…}'`) is parsed; a key that looks like `autoRetry` but is not
 * it (`autoretry`, `autoRetries`) is an error, not a silent synth with built-in defaults.
 */
export function autoRetryFromContext(context: Readonly<Record<string, unknown>>): { raw: unknown; origin: ConfigOrigin } {
  const lookalikes = Object.keys(context).filter(
    (key) => key !== 'autoRetry' && (key.toLowerCase() === 'autoretry' || editDistance(key.toLowerCase(), 'autoretry') <= 2),
  );
  if (lookalikes.length > 0) {
    throw new ConfigurationError(
      lookalikes.map(
        (key) => `context key ${show(key)} looks like "autoRetry", which is spelled exactly so; rename it (it would be ignored)`,
      ),
    );
  }
  const raw = context.autoRetry;
  if (typeof raw !== 'string') return { raw, origin: 'cdk.json' };
  try {
    return { raw: JSON.parse(raw) as unknown, origin: 'context string' };
  } catch (error) {
    throw new ConfigurationError([
      `context autoRetry is a string but not JSON (as -c autoRetry='{…}' must be): ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
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
  readonly organization?: {
    readonly centralAccount: string;
    readonly centralRegion: string;
    readonly memberAccounts?: readonly string[];
    readonly organizationId?: string;
    readonly memberRegions?: readonly string[];
    readonly memberRoleName?: string;
  };
}

const TOP_KEYS = ['watch', 'default', 'pipelines', 'accounts', 'ledgerRetentionDays', 'notifications', 'alarms', 'metrics', 'organization'];
const ORGANIZATION_KEYS = ['centralAccount', 'centralRegion', 'memberAccounts', 'organizationId', 'memberRegions', 'memberRoleName'];

/** Where the stacks of an organization deployment go: cdk.json's `organization`, read by bin/app.ts. */
export interface Deployment {
  readonly central: Location;
  /** One member stack each: every member account in every member region, and the central account in the other regions. */
  readonly members: readonly Location[];
}

/** The stacks to synthesize for a validated configuration; undefined for a single-account deployment. */
export function deploymentOf(raw: unknown): Deployment | undefined {
  const org = isObject(raw) && isObject(raw.organization) ? raw.organization : undefined;
  if (!org) return undefined;
  const central = { account: String(org.centralAccount), region: String(org.centralRegion) };
  const regions = [...new Set([central.region, ...((org.memberRegions as string[] | undefined) ?? [])])];
  const accounts = [...new Set([central.account, ...((org.memberAccounts as string[] | undefined) ?? [])])];
  const members = accounts.flatMap((account) =>
    regions.filter((region) => account !== central.account || region !== central.region).map((region) => ({ account, region })),
  );
  return { central, members };
}

/**
 * Validates the `autoRetry` configuration and turns it into the construct's props. Every problem
 * is collected, then thrown together as one ConfigurationError whose lines each name the key and
 * the bad value, e.g. `autoRetry.pipelines.web-app.maxRetries must be an integer from 0 to 10, got -1`.
 */
export function parseAutoRetryConfig(raw: unknown, path = 'autoRetry'): PipelineAutoRetryProps {
  const problems: string[] = [];
  const config = raw ?? {};
  if (!isObject(config)) throw new ConfigurationError([`${path} must be an object, got ${show(raw)}`]);
  problems.push(...unknownKeyProblems(config, TOP_KEYS, path));

  let watch: string[] | undefined;
  if (config.watch !== undefined && config.watch !== 'all') {
    if (!Array.isArray(config.watch) || config.watch.length === 0) {
      problems.push(`${path}.watch must be "all" or a non-empty list of pipeline names, got ${show(config.watch)}`);
    } else {
      watch = [];
      config.watch.forEach((name, i) => {
        const problem = pipelineNameProblem(name, `${path}.watch[${i}]`);
        if (problem) problems.push(problem);
        else watch?.push(name as string);
      });
    }
  }

  const policy = (value: unknown, where: string, allowed: readonly string[]): RetryPolicyProps | undefined => {
    if (!isObject(value)) {
      problems.push(`${where} must be an object, got ${show(value)}`);
      return undefined;
    }
    problems.push(...unknownKeyProblems(value, allowed, where));
    const result = validateConfigPolicy(value, where);
    problems.push(...result.problems);
    return policyPropsOfPatch(result.patch);
  };

  const defaultPolicy = config.default === undefined ? undefined : policy(config.default, `${path}.default`, POLICY_KEYS);

  let pipelines: Record<string, PipelineRetryPolicyProps> | undefined;
  if (config.pipelines !== undefined) {
    if (!isObject(config.pipelines)) {
      problems.push(`${path}.pipelines must be an object keyed by pipeline name, got ${show(config.pipelines)}`);
    } else {
      pipelines = {};
      for (const [pipeline, value] of Object.entries(config.pipelines)) {
        const where = keyPath(`${path}.pipelines`, pipeline);
        // `<account>/<pipeline>` is checked with the props (lib/policies.ts); a bare name here.
        const keyProblem = pipeline.includes('/') ? undefined : pipelineKeyProblem(pipeline, where);
        if (keyProblem) {
          problems.push(keyProblem);
          continue;
        }
        const name = pipeline.split('/').pop() as string;
        if (watch && !watch.includes(name)) {
          problems.push(`${where} has a policy but ${name} is not in ${path}.watch, so it would never be retried`);
        }
        const own = policy(value, where, [...POLICY_KEYS, 'stages']);
        const stages = isObject(value) ? value.stages : undefined;
        const stageProps: Record<string, RetryPolicyProps> = {};
        if (stages !== undefined && !isObject(stages)) {
          problems.push(`${where}.stages must be an object keyed by stage name, got ${show(stages)}`);
        } else {
          for (const [stage, stageValue] of Object.entries(stages ?? {})) {
            const stageProblem = stageKeyProblem(stage, keyPath(`${where}.stages`, stage));
            if (stageProblem) {
              problems.push(stageProblem);
              continue;
            }
            // A budget is per pipeline: a stage cannot have its own.
            const parsed = policy(
              stageValue,
              keyPath(`${where}.stages`, stage),
              POLICY_KEYS.filter((k) => k !== 'budget'),
            );
            if (parsed) stageProps[stage] = parsed;
          }
        }
        pipelines[pipeline] = { ...own, ...(Object.keys(stageProps).length > 0 ? { stages: stageProps } : {}) };
      }
    }
  }

  const retention = config.ledgerRetentionDays;
  if (retention !== undefined) push(problems, integerProblem(retention, `${path}.ledgerRetentionDays`, 1, 3650));

  const notifications = section(config, 'notifications', ['emails', 'slack'], path, problems, 'an object with emails and/or slack');
  const emails: string[] = [];
  let slack: { workspaceId: string; channelId: string } | undefined;
  if (notifications) {
    const where = `${path}.notifications`;
    const list = notifications.emails;
    if (list !== undefined) {
      if (!Array.isArray(list)) problems.push(`${where}.emails must be a list of email addresses, got ${show(list)}`);
      else
        list.forEach((e, i) => {
          const problem = emailProblem(e, `${where}.emails[${i}]`);
          if (problem) problems.push(problem);
          else emails.push(e as string);
        });
    }
    const s = section(notifications, 'slack', ['workspaceId', 'channelId'], where, problems, 'an object { workspaceId, channelId }');
    if (s) {
      const slackIssues = slackProblems(s.workspaceId, s.channelId, `${where}.slack`);
      problems.push(...slackIssues);
      if (slackIssues.length === 0) slack = { workspaceId: String(s.workspaceId), channelId: String(s.channelId) };
    }
  }

  const alarms = section(config, 'alarms', ['exhaustedPerHour'], path, problems);
  if (alarms?.exhaustedPerHour !== undefined) {
    push(problems, integerProblem(alarms.exhaustedPerHour, `${path}.alarms.exhaustedPerHour`, 1, 10_000));
  }

  const metrics = section(config, 'metrics', ['pipelineDimensions'], path, problems);
  if (metrics?.pipelineDimensions !== undefined && typeof metrics.pipelineDimensions !== 'boolean') {
    problems.push(`${path}.metrics.pipelineDimensions must be true or false, got ${show(metrics.pipelineDimensions)}`);
  }

  let accounts: Record<string, RetryPolicyProps> | undefined;
  if (config.accounts !== undefined) {
    if (!isObject(config.accounts)) {
      problems.push(`${path}.accounts must be an object keyed by 12-digit account id, got ${show(config.accounts)}`);
    } else {
      accounts = {};
      for (const [account, value] of Object.entries(config.accounts)) {
        const parsed = policy(
          value,
          keyPath(`${path}.accounts`, account),
          POLICY_KEYS.filter((k) => k !== 'budget'),
        );
        if (parsed) accounts[account] = parsed;
      }
    }
  }

  const org = section(
    config,
    'organization',
    ORGANIZATION_KEYS,
    path,
    problems,
    'an object with centralAccount, centralRegion and memberAccounts or organizationId',
  );
  let organization: OrganizationProps | undefined;
  if (org) {
    const where = `${path}.organization`;
    push(problems, accountProblem(org.centralAccount, `${where}.centralAccount`, 'the 12-digit account of the central stack'));
    push(problems, regionProblem(org.centralRegion, `${where}.centralRegion`, 'the region of the central stack, such as us-east-1'));
    for (const key of ['memberAccounts', 'memberRegions'] as const) {
      if (org[key] !== undefined && !(Array.isArray(org[key]) && (org[key] as unknown[]).every((v) => typeof v === 'string'))) {
        problems.push(`${where}.${key} must be a list of strings, got ${show(org[key])}`);
      }
    }
    for (const key of ['organizationId', 'memberRoleName'] as const) {
      if (org[key] !== undefined && typeof org[key] !== 'string') problems.push(`${where}.${key} must be a string, got ${show(org[key])}`);
    }
    organization = {
      ...(Array.isArray(org.memberAccounts) ? { memberAccounts: org.memberAccounts as string[] } : {}),
      ...(typeof org.organizationId === 'string' ? { organizationId: org.organizationId } : {}),
      ...(Array.isArray(org.memberRegions) ? { memberRegions: org.memberRegions as string[] } : {}),
      ...(typeof org.memberRoleName === 'string' ? { memberRoleName: org.memberRoleName } : {}),
    };
  }

  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    ...(watch ? { watchedPipelines: watch } : {}),
    ...(accounts ? { accounts } : {}),
    ...(organization ? { organization } : {}),
    ...(defaultPolicy ? { defaultPolicy } : {}),
    ...(pipelines ? { pipelines } : {}),
    ...(typeof retention === 'number' ? { ledgerRetention: Duration.days(retention) } : {}),
    ...(notifications ? { notifications: { ...(emails.length > 0 ? { emails } : {}), ...(slack ? { slack } : {}) } } : {}),
    ...(typeof alarms?.exhaustedPerHour === 'number' ? { alarms: { exhaustedPerHour: alarms.exhaustedPerHour } } : {}),
    ...(typeof metrics?.pipelineDimensions === 'boolean' ? { metrics: { pipelineDimensions: metrics.pipelineDimensions } } : {}),
  };
}

/** A validated policy in the props' terms: `Duration`s and enums. */
export function policyPropsOfPatch(patch: PolicyPatch): RetryPolicyProps {
  const duration = (s: number | undefined) => (s === undefined ? undefined : Duration.seconds(s));
  const rules = (list: readonly FailureRule[] | undefined) =>
    list?.map((r) => ({
      ...(r.code ? { code: [...r.code] } : {}),
      ...(r.message !== undefined ? { message: r.message } : {}),
      ...(r.category ? { category: [...r.category] } : {}),
      ...(r.provider ? { provider: [...r.provider] } : {}),
    }));
  const props = {
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
  };
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as RetryPolicyProps;
}

function push(problems: string[], problem: string | undefined): void {
  if (problem) problems.push(problem);
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
