/**
 * The names that lib/ (the stack), cli/ (the operators' tool) and lambda/ (the functions) agree
 * on: table layout, metric names, event source, environment and outputs. This module imports
 * nothing, so synthesizing the stack loads no SDK client or Powertools module to learn a constant.
 */

/** The service name in logs, metric dimensions and notifications. */
export const SERVICE_NAME = 'codepipeline-auto-retry';

/** CloudWatch namespace of every metric the function publishes. */
export const METRIC_NAMESPACE = 'CodePipelineAutoRetry';

/** The metrics a decision can produce. Names are the operators' contract (dashboard, alarms). */
export const MetricName = {
  RetryAttempted: 'RetryAttempted',
  RetryRecovered: 'RetryRecovered',
  RetriesExhausted: 'RetriesExhausted',
  RetrySkipped: 'RetrySkipped',
  BudgetExhausted: 'BudgetExhausted',
  /** We stopped retrying a failure and told operators (the reason is in the EMF document). */
  RetryGaveUp: 'RetryGaveUp',
  /** Handling waited in the delay queue because CodePipeline throttled us or our pacing held back. */
  RetryThrottled: 'RetryThrottled',
  /** An event or delay-queue message that could not be read at all. */
  MalformedInput: 'MalformedInput',
  /** A claim the reconciler found past its deadline (its holder died, or its delay message was lost), one per claim. */
  ClaimsStuck: 'ClaimsStuck',
  /** A failed action's provider was read and its failure classified, one per provider object; dimension `FailureClass`. */
  FailureClassified: 'FailureClassified',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** EventBridge `source` and `detail-type` of the events the function handles. */
export const EVENT_SOURCE = 'aws.codepipeline';
export const STAGE_DETAIL_TYPE = 'CodePipeline Stage Execution State Change';

/** The table's key schema and TTL attribute. */
export const TABLE_SCHEMA = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' } as const;

/**
 * The sparse index of ledger records that hold a claim that has not ended. A record is in it from
 * its first open claim until its last one ends; its sort key is the earliest deadline among them,
 * so the reconciler finds every claim past its deadline with one Query, and an idle account's
 * Query returns nothing.
 */
export const OPEN_CLAIMS_INDEX = { name: 'OpenClaims', partitionKey: 'openShard', sortKey: 'openUntil', shard: 'open' } as const;

/** A table key. */
export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

/** Partition keys of the items that are not ledger records. */
export const Partition = { Policy: 'POLICY', Pause: 'PAUSE', Budget: 'BUDGET', Rate: 'RATE' } as const;

/** Ledger records live in one partition per pipeline: `LEDGER#<pipeline>`. */
export const LEDGER_PREFIX = 'LEDGER#';

/** A 12-digit AWS account id. */
export const ACCOUNT_PATTERN = /^\d{12}$/;

/** An AWS region name: us-east-1, eu-central-2, us-gov-west-1, cn-north-1. */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** Where a pipeline lives. */
export interface Location {
  readonly account: string;
  readonly region: string;
}

/**
 * A pipeline's name in table keys. Pipelines of the central stack's own account and region (and
 * every pipeline of a single-account deployment, which has no `home`) keep their bare name, so
 * existing ledgers and budgets read on unchanged; a member's pipeline is `<account>/<region>/<name>`.
 * CodePipeline names never contain '/' or '#'.
 */
export function scopedPipeline(at: Partial<Location>, pipeline: string, home: Location | undefined): string {
  if (!home || (at.account === home.account && at.region === home.region)) return pipeline;
  return formatScopedPipeline({ ...at, pipeline });
}

/** `<account>/<region>/<pipeline>` when both are given, else the bare name: the inverse of parseScopedPipeline. */
export function formatScopedPipeline(p: {
  readonly account?: string | undefined;
  readonly region?: string | undefined;
  readonly pipeline: string;
}): string {
  return p.account && p.region ? `${p.account}/${p.region}/${p.pipeline}` : p.pipeline;
}

/** The parts of a scoped pipeline name; account and region are absent for the central account's own pipelines. */
export function parseScopedPipeline(scoped: string): { readonly account?: string; readonly region?: string; readonly pipeline: string } {
  const parts = scoped.split('/');
  if (parts.length === 3) return { account: parts[0] as string, region: parts[1] as string, pipeline: parts[2] as string };
  return { pipeline: scoped };
}

/**
 * One table holds policies, pause switches, budgets and the ledger. Names never contain '#'
 * (CodePipeline allows [A-Za-z0-9.@-_]), so '#' is a safe separator. A policy or pause switch
 * for one account's pipeline names it `<account>/<pipeline>`; without an account it applies in
 * every account.
 */
export const TableKeys = {
  defaultPolicy: (): TableKey => ({ pk: Partition.Policy, sk: 'DEFAULT' }),
  /** An account's defaults, over the default policy. */
  accountPolicy: (account: string): TableKey => ({ pk: Partition.Policy, sk: `A#${account}` }),
  pipelinePolicy: (pipeline: string, account?: string): TableKey => ({
    pk: Partition.Policy,
    sk: `P#${accountPipeline(pipeline, account)}`,
  }),
  stagePolicy: (pipeline: string, stage: string, account?: string): TableKey => ({
    pk: Partition.Policy,
    sk: `S#${accountPipeline(pipeline, account)}#${stage}`,
  }),
  pause: (pipeline: string, account?: string): TableKey => ({ pk: Partition.Pause, sk: accountPipeline(pipeline, account) }),
  /** Pauses every pipeline of one account. */
  pauseAccount: (account: string): TableKey => ({ pk: Partition.Pause, sk: `account:${account}` }),
  /** Pauses every pipeline: the kill switch. */
  pauseAll: (): TableKey => ({ pk: Partition.Pause, sk: '*' }),
  /** `pipeline` is the scoped name (see scopedPipeline). */
  budget: (pipeline: string): TableKey => ({ pk: Partition.Budget, sk: pipeline }),
  /** The CodePipeline request rate the deployment shares in one account and region (`home`, or `<account>/<region>`). */
  rate: (scope: string): TableKey => ({ pk: Partition.Rate, sk: scope }),
  /** `pipeline` is the scoped name (see scopedPipeline). */
  ledger: (pipeline: string, stage: string, executionId: string): TableKey => ({
    pk: `${LEDGER_PREFIX}${pipeline}`,
    sk: `${stage}#${executionId}`,
  }),
} as const;

/** A pipeline in one account, `<account>/<pipeline>`, as policies and pause switches name it; bare for every account. */
export function accountPipeline(pipeline: string, account: string | undefined): string {
  return account === undefined ? pipeline : `${account}/${pipeline}`;
}

/** The retry function's environment, as the stack sets it and the function reads it. */
export const FunctionEnv = {
  TableName: 'TABLE_NAME',
  RetryQueueUrl: 'RETRY_QUEUE_URL',
  LedgerRetentionDays: 'LEDGER_RETENTION_DAYS',
  NotifyTopicArn: 'NOTIFY_TOPIC_ARN',
  MetricPipelines: 'METRIC_PIPELINES',
  PolicyCacheSeconds: 'POLICY_CACHE_SECONDS',
  /** How long a claim's holder owns it: derived from the function timeout by the stack. */
  LeaseSeconds: 'LEASE_SECONDS',
  /** CodePipeline requests per second the whole deployment may spend in an account and region (the account's quota is shared). */
  CodePipelineRequestsPerSecond: 'CODEPIPELINE_REQUESTS_PER_SECOND',
  /** The longest a call waits inside an invocation for its turn at that rate (a quarter of the function's timeout). */
  MaxRateWaitSeconds: 'MAX_RATE_WAIT_SECONDS',
  /** The central stack's account and region (organization deployments only): its pipelines need no role. */
  HomeAccount: 'HOME_ACCOUNT',
  HomeRegion: 'HOME_REGION',
  /** Member accounts whose events are handled: a comma-separated list, or `*` for any the bus admits (its organization). */
  MemberAccounts: 'MEMBER_ACCOUNTS',
  /** Member regions, comma-separated; unset means any. */
  MemberRegions: 'MEMBER_REGIONS',
  /** The member role's name without its region suffix (see memberRoleName). */
  MemberRoleName: 'MEMBER_ROLE_NAME',
  /** `true`: classify every failure (for the report), not only those whose policy has a `class` rule. */
  ClassifyAllFailures: 'CLASSIFY_ALL_FAILURES',
} as const;

/** The default start of every fixed physical name; a second deployment in the same account takes another. */
export const DEFAULT_NAME_PREFIX = 'codepipeline-auto-retry';

/** A name prefix: IAM allows 64 characters for a role, and `-central` and `-member-<region>` are appended. */
export const NAME_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,29}$/;

/**
 * The names that cannot be generated, because the other side of an organization names them
 * first: the central stack's event bus (member stacks forward to it), the central retry
 * function's role (member roles trust exactly it, by aws:PrincipalArn) and the member role's
 * base name (the central function assumes it in each member).
 */
export function physicalNames(prefix: string = DEFAULT_NAME_PREFIX): {
  readonly centralBus: string;
  readonly centralRole: string;
  readonly memberRoleBase: string;
} {
  return { centralBus: prefix, centralRole: `${prefix}-central`, memberRoleBase: `${prefix}-member` };
}

/** The custom event bus of the central stack that member stacks forward to (default prefix). */
export const CENTRAL_BUS_NAME = physicalNames().centralBus;

/** The central retry function's role name in an organization deployment (default prefix). */
export const CENTRAL_ROLE_NAME = physicalNames().centralRole;

/** The member role's default base name (default prefix). */
export const DEFAULT_MEMBER_ROLE_NAME = physicalNames().memberRoleBase;

/** One member role per account and region (IAM names are account-wide), so one template serves every region. */
export function memberRoleName(base: string, region: string): string {
  return `${base}-${region}`;
}

/** The partition an AWS region belongs to, for ARNs the function builds. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** The stack name `cdk deploy` uses unless cdk.json's `stackName` context says otherwise. */
export const DEFAULT_STACK_NAME = 'CodePipelineAutoRetry';

/** Stack outputs the CLI reads. */
export const StackOutput = {
  TableName: 'TableName',
  /** The description of every table-name output, so the CLI finds a construct's table whatever id its stack gave the output. */
  TableDescription: 'codepipeline-auto-retry table (autoretry --table)',
} as const;
