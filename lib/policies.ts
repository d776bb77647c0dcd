import type { Duration } from 'aws-cdk-lib';
import { ACCOUNT_PATTERN, DEFAULT_MEMBER_ROLE_NAME } from '../contract';
import {
  accountProblem,
  emailProblem,
  integerProblem,
  pipelineKeyProblem,
  pipelineNameProblem,
  regionProblem,
  slackProblems,
  stageKeyProblem,
} from '../policy/checks';
import { parseDuration } from '../policy/duration';
import { ConfigurationError, InvalidInputError } from '../policy/errors';
import { type PolicyPatch, validatePolicyPatch } from '../policy/policy';
import { isSafeRegex } from '../policy/safe-regex';
import { type PolicySeed, parsePolicyTarget } from '../policy/scope';
import { keyPath, show } from '../policy/show';
import { CONFIG_KEYS } from './config';
import { DEFAULT_CODEPIPELINE_REQUESTS_PER_SECOND, DEFAULT_RESERVED_CONCURRENCY } from './defaults';
import type { OrganizationProps, PipelineAutoRetryProps, RetryPolicyProps, SlackChannel } from './props';

/** The construct's props after validation: what it builds from. */
export interface ResolvedProps {
  /** `all`, or the watched pipelines. */
  readonly watch: 'all' | readonly string[];
  /** The policies the deploy writes to the table. */
  readonly policies: readonly PolicySeed[];
  readonly ledgerRetentionDays: number;
  readonly emails: readonly string[];
  readonly slack: SlackChannel | undefined;
  readonly exhaustedPerHour: number;
  /** Pipelines that get their own metric dimension; undefined when the dimension is off. */
  readonly metricPipelines: readonly string[] | undefined;
  readonly reservedConcurrency: number;
  readonly codePipelineRequestsPerSecond: number;
  /** The members of an organization deployment; undefined for a single account. */
  readonly organization: ResolvedOrganization | undefined;
}

export interface ResolvedOrganization {
  /** Member accounts, or `*` for every account of `organizationId`. */
  readonly accounts: '*' | readonly string[];
  readonly organizationId: string | undefined;
  /** Member regions; empty means the central region only. */
  readonly regions: readonly string[];
  readonly memberRoleName: string;
}

const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
/** IAM role names are at most 64 characters; the region suffix takes up to 16. */
const ROLE_BASE = /^[\w+=,.@-]{1,47}$/;

function resolveOrganization(org: OrganizationProps | undefined, path: string, problems: string[]): ResolvedOrganization | undefined {
  if (!org) return undefined;
  const where = `${path}.organization`;
  const accounts = org.memberAccounts ?? [];
  accounts.forEach((a, i) => {
    push(problems, accountProblem(a, `${where}.memberAccounts[${i}]`));
  });
  if (org.organizationId !== undefined && !ORGANIZATION_ID.test(String(org.organizationId))) {
    problems.push(`${where}.organizationId must be an AWS Organizations id such as o-a1b2c3d4e5, got ${show(org.organizationId)}`);
  }
  if (org.organizationId === undefined && accounts.length === 0) {
    problems.push(`${where} needs memberAccounts (a list of account ids) or organizationId (admit the whole organization)`);
  }
  const regions = org.memberRegions ?? [];
  regions.forEach((r, i) => {
    push(problems, regionProblem(r, `${where}.memberRegions[${i}]`));
  });
  const memberRoleName = org.memberRoleName ?? DEFAULT_MEMBER_ROLE_NAME;
  if (!ROLE_BASE.test(memberRoleName)) {
    problems.push(
      `${where}.memberRoleName must be 1-47 characters of [A-Za-z0-9+=,.@_-] (the region is appended), got ${show(memberRoleName)}`,
    );
  }
  return {
    accounts: org.organizationId !== undefined && accounts.length === 0 ? '*' : [...accounts],
    organizationId: org.organizationId,
    regions: [...regions],
    memberRoleName,
  };
}

/** A `Duration`, as whole seconds when it is one; anything else is passed on for the validator to name. */
function seconds(value: Duration | undefined): unknown {
  if (value === undefined) return undefined;
  const d = value as Partial<Duration>;
  return typeof d.toSeconds === 'function' ? d.toSeconds({ integral: false }) : value;
}

/** Validates one policy from props, naming problems by their prop path. */
export function policyPatchOfProps(props: RetryPolicyProps, where: string): { patch: PolicyPatch; problems: string[] } {
  const raw: Record<string, unknown> = {
    ...props,
    cooldown: seconds(props.cooldown),
    maxCooldown: seconds(props.maxCooldown),
    maxRetryWindow: seconds(props.maxRetryWindow),
    ...(props.budget ? { budget: { maxRetries: props.budget.maxRetries, window: seconds(props.budget.window) } } : {}),
  };
  for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key];
  return validatePolicyPatch(raw, where, {
    keyOf: (field) => CONFIG_KEYS[field],
    seconds: (v) => (typeof v === 'number' ? parseDuration(v) : undefined),
    budgetWindowKey: 'window',
    regexCheck: isSafeRegex,
  });
}

/**
 * Validates the props and resolves their defaults. Every problem is collected, then thrown
 * together as one ConfigurationError whose lines name the prop path.
 */
export function resolveProps(props: PipelineAutoRetryProps, path = 'props'): ResolvedProps {
  const problems: string[] = [];
  const policies: PolicySeed[] = [];
  const watched = props.watchedPipelines;
  if (watched !== undefined) {
    if (watched.length === 0) problems.push(`${path}.watchedPipelines must name at least one pipeline, or be left out to watch all`);
    watched.forEach((name, i) => {
      push(problems, pipelineNameProblem(name, `${path}.watchedPipelines[${i}]`));
    });
  }

  const add = (policy: RetryPolicyProps, where: string, seed: (patch: PolicyPatch) => PolicySeed) => {
    const { patch, problems: found } = policyPatchOfProps(policy, where);
    problems.push(...found);
    if (found.length === 0 && Object.keys(patch).length > 0) policies.push(seed(patch));
  };
  if (props.defaultPolicy) add(props.defaultPolicy, `${path}.defaultPolicy`, (patch) => ({ scope: { kind: 'default' }, patch }));
  for (const [account, policy] of Object.entries(props.accounts ?? {})) {
    const where = keyPath(`${path}.accounts`, account);
    if (!ACCOUNT_PATTERN.test(account)) {
      problems.push(`${where} is not a 12-digit account id`);
      continue;
    }
    if (policy.budget) problems.push(`${where}.budget is per pipeline: set it on a pipeline's policy`);
    add(policy, where, (patch) => ({ scope: { kind: 'account', account }, patch }));
  }
  for (const [key, policy] of Object.entries(props.pipelines ?? {})) {
    const where = keyPath(`${path}.pipelines`, key);
    const target = pipelineTargetOf(key, where, problems);
    if (!target) continue;
    const { pipeline, account } = target;
    if (watched && !watched.includes(pipeline)) {
      problems.push(`${where} has a policy but ${pipeline} is not in ${path}.watchedPipelines, so it would never be retried`);
    }
    const { stages, ...own } = policy;
    add(own, where, (patch) => ({ scope: { kind: 'pipeline', pipeline, account }, patch }));
    for (const [stage, stagePolicy] of Object.entries(stages ?? {})) {
      const stageWhere = keyPath(`${where}.stages`, stage);
      const stageProblem = stageKeyProblem(stage, stageWhere);
      if (stageProblem) {
        problems.push(stageProblem);
        continue;
      }
      if (stagePolicy.budget) problems.push(`${stageWhere}.budget is per pipeline: set it on the pipeline's policy`);
      add(stagePolicy, stageWhere, (patch) => ({ scope: { kind: 'stage', pipeline, stage, account }, patch }));
    }
  }

  const retention = props.ledgerRetention ? seconds(props.ledgerRetention) : 30 * 86_400;
  const ledgerRetentionDays = typeof retention === 'number' ? retention / 86_400 : Number.NaN;
  push(problems, integerProblem(ledgerRetentionDays, `${path}.ledgerRetention (in days)`, 1, 3650));

  const emails = props.notifications?.emails ?? [];
  emails.forEach((e, i) => {
    push(problems, emailProblem(e, `${path}.notifications.emails[${i}]`));
  });
  const slack = props.notifications?.slack;
  if (slack) problems.push(...slackProblems(slack.workspaceId, slack.channelId, `${path}.notifications.slack`));

  const exhaustedPerHour = props.alarms?.exhaustedPerHour ?? 5;
  push(problems, integerProblem(exhaustedPerHour, `${path}.alarms.exhaustedPerHour`, 1, 10_000));

  const reservedConcurrency = props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY;
  push(problems, integerProblem(reservedConcurrency, `${path}.reservedConcurrency`, 2, 1000));
  const rate = props.codePipelineRequestsPerSecond ?? DEFAULT_CODEPIPELINE_REQUESTS_PER_SECOND;
  if (!(typeof rate === 'number' && Number.isFinite(rate) && rate >= 1 && rate <= 1000)) {
    problems.push(`${path}.codePipelineRequestsPerSecond must be a number from 1 to 1000, got ${String(rate)}`);
  }
  const timeout = props.timeout?.toSeconds() ?? 30;
  if (!(timeout >= 10 && timeout <= 300)) {
    problems.push(`${path}.timeout must be from 10 seconds to 5 minutes (the ledger lease is twice it), got ${timeout} seconds`);
  }

  const reconcile = props.reconcileEvery?.toSeconds() ?? 300;
  if (!(reconcile >= 60 && reconcile <= 3600 && Number.isInteger(reconcile / 60))) {
    problems.push(`${path}.reconcileEvery must be whole minutes from 1 to 60, got ${reconcile} seconds`);
  }

  const organization = resolveOrganization(props.organization, path, problems);

  if (problems.length > 0) throw new ConfigurationError(problems);
  const named = [...new Set([...(watched ?? []), ...Object.keys(props.pipelines ?? {}).map((k) => k.split('/').pop() as string)])];
  return {
    watch: watched ?? 'all',
    policies,
    ledgerRetentionDays,
    emails,
    slack,
    exhaustedPerHour,
    metricPipelines: props.metrics?.pipelineDimensions === false ? undefined : named,
    reservedConcurrency,
    codePipelineRequestsPerSecond: rate,
    organization,
  };
}

/** A `pipelines` key: a pipeline in every account, or `<account>/<pipeline>`. */
function pipelineTargetOf(key: string, where: string, problems: string[]): { pipeline: string; account?: string | undefined } | undefined {
  const keyProblem = key.includes('/') ? undefined : pipelineKeyProblem(key, where);
  if (keyProblem) {
    problems.push(keyProblem);
    return undefined;
  }
  try {
    const target = parsePolicyTarget(key, where);
    if (target.pipeline === undefined) {
      problems.push(`${where}: an account's defaults go under accounts, keyed by the account id`);
      return undefined;
    }
    return target;
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    problems.push(error.message);
    return undefined;
  }
}

function push(problems: string[], problem: string | undefined): void {
  if (problem) problems.push(problem);
}
