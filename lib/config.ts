import type { PolicyScope } from '../lambda/adapters/table-keys';
import { ConfigurationError } from '../lambda/domain/errors';
import { CONFIG_KEYS, NAME_PATTERN, type PolicyPatch, show, validatePolicyPatch } from '../lambda/domain/policy';

/** A failure filter as written in cdk.json. */
export interface FailureRuleConfig {
  /** errorDetails.code of the failed action, e.g. `JobFailed`; one or a list. */
  readonly code?: string | readonly string[];
  /** Case-insensitive regular expression tried on the error message and the summary. */
  readonly message?: string;
  /** Source, Build, Test, Deploy, Approval, Invoke, Compute; one or a list. */
  readonly category?: string | readonly string[];
  /** e.g. CodeBuild, CloudFormation, ECS; one or a list. */
  readonly provider?: string | readonly string[];
}

/** A policy as written in cdk.json: durations are strings such as "5m" (or whole seconds). */
export interface PolicyConfig {
  /** Automatic RetryStageExecution calls per stage execution, 0 to 10. */
  readonly maxRetries?: number;
  /** Wait after the failure before the first retry: `0`, `45s`, `5m`, `2h` or whole seconds, up to 12h. */
  readonly cooldown?: string | number;
  /** Each further retry waits this many times longer (1 to 10). @default 1 */
  readonly backoff?: number;
  /** Cap on any wait. @default 12h */
  readonly maxCooldown?: string | number;
  /** `full`: wait a random time up to the computed wait. @default none */
  readonly jitter?: 'none' | 'full';
  /** No automatic retry once this long has passed since the stage first failed in the execution (up to 7d). */
  readonly maxRetryWindow?: string | number;
  /** `FAILED_ACTIONS` re-runs the failed actions, `ALL_ACTIONS` the whole stage. */
  readonly retryMode?: 'FAILED_ACTIONS' | 'ALL_ACTIONS';
  /** `observe` decides, logs and records but never retries: roll a policy out safely. */
  readonly mode?: 'enforce' | 'observe';
  /** Retry only failures matching one of these rules. @default any failure */
  readonly retryOn?: readonly FailureRuleConfig[];
  /** Never retry failures matching one of these rules; wins over retryOn. */
  readonly neverRetryOn?: readonly FailureRuleConfig[];
  /** Count CodePipeline's own and hand-made retries against maxRetries. @default false */
  readonly countManualRetries?: boolean;
  /** Per-pipeline circuit breaker: at most maxRetries automatic retries in any window (pipeline and default only). */
  readonly budget?: { readonly maxRetries: number; readonly window: string | number };
  /** Built-in rules to switch off: `approval-rejected`, `stage-stopped`. */
  readonly overrideBuiltIns?: readonly ('approval-rejected' | 'stage-stopped')[];
}

export interface PipelineConfig extends PolicyConfig {
  /** Per-stage overrides, keyed by stage name. */
  readonly stages?: Readonly<Record<string, PolicyConfig>>;
}

/** The `autoRetry` block of cdk.json context. */
export interface AutoRetryConfig {
  /** `"all"` watches every pipeline in the account and region; a list watches only those. */
  readonly watch?: 'all' | readonly string[];
  /** The policy for every watched pipeline without its own. */
  readonly default?: PolicyConfig;
  /** Per-pipeline policies, keyed by pipeline name. */
  readonly pipelines?: Readonly<Record<string, PipelineConfig>>;
  /** Days the attempt ledger keeps a record (DynamoDB TTL). */
  readonly ledgerRetentionDays?: number;
  /** Who hears about stages that run out of retries, failures not retried, and alarms. */
  readonly notifications?: {
    /** Email addresses subscribed to the notifications topic (each confirms by email). */
    readonly emails?: readonly string[];
    /** A Slack channel through AWS Chatbot; the workspace must be authorised in Chatbot first. */
    readonly slack?: { readonly workspaceId: string; readonly channelId: string };
  };
  /** Alarm thresholds. */
  readonly alarms?: {
    /** Stages running out of retries in one hour that raise the alarm. @default 5 */
    readonly exhaustedPerHour?: number;
  };
  /** Metric options. */
  readonly metrics?: {
    /** A Pipeline dimension for the pipelines named in this configuration (others count as "other"). @default true */
    readonly pipelineDimensions?: boolean;
  };
}

/** Configuration after validation: what the construct and the seeding custom resource use. */
export interface ResolvedConfig {
  readonly watch: 'all' | readonly string[];
  readonly policies: readonly { readonly scope: PolicyScope; readonly patch: PolicyPatch }[];
  readonly ledgerRetentionDays: number;
  readonly emails: readonly string[];
  readonly slack: { readonly workspaceId: string; readonly channelId: string } | undefined;
  readonly exhaustedPerHour: number;
  /** Pipelines that get their own metric dimension; undefined when the dimension is off. */
  readonly metricPipelines: readonly string[] | undefined;
}

const POLICY_KEYS: string[] = Object.values(CONFIG_KEYS);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates the `autoRetry` configuration. Every problem is collected, then thrown together as
 * one ConfigurationError whose lines each name the key and the bad value, e.g.
 * `autoRetry.pipelines.web-app.maxRetries must be an integer from 0 to 10, got -1`.
 */
export function parseAutoRetryConfig(raw: unknown, path = 'autoRetry'): ResolvedConfig {
  const problems: string[] = [];
  const policies: { scope: PolicyScope; patch: PolicyPatch }[] = [];
  const config = raw ?? {};
  if (!isObject(config)) throw new ConfigurationError([`${path} must be an object, got ${show(raw)}`]);
  unknownKeys(config, ['watch', 'default', 'pipelines', 'ledgerRetentionDays', 'notifications', 'alarms', 'metrics'], path, problems);

  let watch: 'all' | string[] = 'all';
  if (config.watch !== undefined && config.watch !== 'all') {
    if (!Array.isArray(config.watch) || config.watch.length === 0) {
      problems.push(`${path}.watch must be "all" or a non-empty list of pipeline names, got ${show(config.watch)}`);
    } else {
      watch = [];
      config.watch.forEach((name, i) => {
        if (typeof name === 'string' && NAME_PATTERN.test(name)) (watch as string[]).push(name);
        else problems.push(`${path}.watch[${i}] must be a pipeline name ([A-Za-z0-9.@-_], 1-100 characters), got ${show(name)}`);
      });
    }
  }

  const policy = (value: unknown, where: string, allowed: string[], scope: PolicyScope): void => {
    if (!isObject(value)) {
      problems.push(`${where} must be an object, got ${show(value)}`);
      return;
    }
    unknownKeys(value, allowed, where, problems);
    const result = validatePolicyPatch(value, where);
    problems.push(...result.problems);
    if (result.problems.length === 0 && Object.keys(result.patch).length > 0) policies.push({ scope, patch: result.patch });
  };

  if (config.default !== undefined) policy(config.default, `${path}.default`, POLICY_KEYS, { kind: 'default' });

  if (config.pipelines !== undefined) {
    if (!isObject(config.pipelines)) {
      problems.push(`${path}.pipelines must be an object keyed by pipeline name, got ${show(config.pipelines)}`);
    } else {
      for (const [pipeline, value] of Object.entries(config.pipelines)) {
        const where = `${path}.pipelines.${pipeline}`;
        if (!NAME_PATTERN.test(pipeline)) {
          problems.push(`${where}: "${pipeline}" is not a valid pipeline name ([A-Za-z0-9.@-_], 1-100 characters)`);
          continue;
        }
        if (watch !== 'all' && !watch.includes(pipeline)) {
          problems.push(`${where} has a policy but ${pipeline} is not in ${path}.watch, so it would never be retried`);
        }
        policy(value, where, [...POLICY_KEYS, 'stages'], { kind: 'pipeline', pipeline });
        const stages = isObject(value) ? value.stages : undefined;
        if (stages === undefined) continue;
        if (!isObject(stages)) {
          problems.push(`${where}.stages must be an object keyed by stage name, got ${show(stages)}`);
          continue;
        }
        for (const [stage, stageValue] of Object.entries(stages)) {
          if (!NAME_PATTERN.test(stage)) {
            problems.push(`${where}.stages: "${stage}" is not a valid stage name`);
            continue;
          }
          // A budget is per pipeline: a stage cannot have its own.
          policy(
            stageValue,
            `${where}.stages.${stage}`,
            POLICY_KEYS.filter((k) => k !== 'budget'),
            { kind: 'stage', pipeline, stage },
          );
        }
      }
    }
  }

  const ledgerRetentionDays = integerSetting(config.ledgerRetentionDays, `${path}.ledgerRetentionDays`, 1, 3650, 30, problems);

  const emails: string[] = [];
  let slack: ResolvedConfig['slack'];
  const notifications = section(config, 'notifications', ['emails', 'slack'], path, problems, 'an object with emails and/or slack');
  if (notifications) {
    const where = `${path}.notifications`;
    const list = notifications.emails;
    if (list !== undefined) {
      if (!Array.isArray(list)) problems.push(`${where}.emails must be a list of email addresses, got ${show(list)}`);
      else
        list.forEach((e, i) => {
          if (typeof e === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) emails.push(e);
          else problems.push(`${where}.emails[${i}] must be an email address, got ${show(e)}`);
        });
    }
    const s = section(notifications, 'slack', ['workspaceId', 'channelId'], where, problems, 'an object { workspaceId, channelId }');
    if (s) {
      const workspaceOk = typeof s.workspaceId === 'string' && /^[0-9A-Z]{1,255}$/.test(s.workspaceId);
      const channelOk = typeof s.channelId === 'string' && /^[A-Za-z0-9]{1,255}$/.test(s.channelId);
      if (!workspaceOk)
        problems.push(`${where}.slack.workspaceId must be a Slack workspace id such as T0123ABCD, got ${show(s.workspaceId)}`);
      if (!channelOk) problems.push(`${where}.slack.channelId must be a Slack channel id such as C0123ABCD, got ${show(s.channelId)}`);
      if (workspaceOk && channelOk) slack = { workspaceId: String(s.workspaceId), channelId: String(s.channelId) };
    }
  }

  const alarms = section(config, 'alarms', ['exhaustedPerHour'], path, problems);
  const exhaustedPerHour = integerSetting(alarms?.exhaustedPerHour, `${path}.alarms.exhaustedPerHour`, 1, 10_000, 5, problems);

  const metrics = section(config, 'metrics', ['pipelineDimensions'], path, problems);
  let pipelineDimensions = true;
  if (metrics?.pipelineDimensions !== undefined) {
    if (typeof metrics.pipelineDimensions === 'boolean') pipelineDimensions = metrics.pipelineDimensions;
    else problems.push(`${path}.metrics.pipelineDimensions must be true or false, got ${show(metrics.pipelineDimensions)}`);
  }
  const named = [...new Set([...(watch === 'all' ? [] : watch), ...Object.keys(isObject(config.pipelines) ? config.pipelines : {})])];

  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    watch,
    policies,
    ledgerRetentionDays,
    emails,
    slack,
    exhaustedPerHour,
    metricPipelines: pipelineDimensions ? named : undefined,
  };
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
  unknownKeys(value, allowed, `${path}.${key}`, problems);
  return value;
}

/** An optional whole-number setting from `min` to `max`; `fallback` when absent or wrong (reported). */
function integerSetting(value: unknown, where: string, min: number, max: number, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(`${where} must be an integer from ${min} to ${max}, got ${show(value)}`);
  return fallback;
}

function unknownKeys(obj: Record<string, unknown>, allowed: string[], path: string, problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push(`${path}.${key} is not a known setting (expected one of: ${allowed.join(', ')})`);
  }
}
