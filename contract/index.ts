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
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** EventBridge `source` and `detail-type` of the events the function handles. */
export const EVENT_SOURCE = 'aws.codepipeline';
export const STAGE_DETAIL_TYPE = 'CodePipeline Stage Execution State Change';

/** The table's key schema and TTL attribute. */
export const TABLE_SCHEMA = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' } as const;

/** A table key. */
export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

/** Partition keys of the items that are not ledger records. */
export const Partition = { Policy: 'POLICY', Pause: 'PAUSE', Budget: 'BUDGET' } as const;

/** Ledger records live in one partition per pipeline: `LEDGER#<pipeline>`. */
export const LEDGER_PREFIX = 'LEDGER#';

/**
 * One table holds policies, pause switches, budgets and the ledger. Names never contain '#'
 * (CodePipeline allows [A-Za-z0-9.@-_]), so '#' is a safe separator.
 */
export const TableKeys = {
  defaultPolicy: (): TableKey => ({ pk: Partition.Policy, sk: 'DEFAULT' }),
  pipelinePolicy: (pipeline: string): TableKey => ({ pk: Partition.Policy, sk: `P#${pipeline}` }),
  stagePolicy: (pipeline: string, stage: string): TableKey => ({ pk: Partition.Policy, sk: `S#${pipeline}#${stage}` }),
  pause: (pipeline: string): TableKey => ({ pk: Partition.Pause, sk: pipeline }),
  /** Pauses every pipeline: the account-wide kill switch. */
  pauseAll: (): TableKey => ({ pk: Partition.Pause, sk: '*' }),
  budget: (pipeline: string): TableKey => ({ pk: Partition.Budget, sk: pipeline }),
  ledger: (pipeline: string, stage: string, executionId: string): TableKey => ({
    pk: `${LEDGER_PREFIX}${pipeline}`,
    sk: `${stage}#${executionId}`,
  }),
} as const;

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
  /** CodePipeline requests per second the whole product may spend (the account's quota is shared). */
  CodePipelineRequestsPerSecond: 'CODEPIPELINE_REQUESTS_PER_SECOND',
  /** The function's concurrency cap: each instance paces itself to its share of the rate. */
  MaxConcurrency: 'MAX_CONCURRENCY',
} as const;

/** The stack name `cdk deploy` uses unless cdk.json's `stackName` context says otherwise. */
export const DEFAULT_STACK_NAME = 'CodePipelineAutoRetry';

/** Stack outputs the CLI reads. */
export const StackOutput = { TableName: 'TableName' } as const;
