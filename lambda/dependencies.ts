import { randomUUID } from 'node:crypto';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { FunctionEnv } from '../contract';
import { boundedMatch } from './adapters/bounded-match';
import { BudgetStore } from './adapters/budget-store';
import { clientConfig } from './adapters/clients';
import { DelayQueue } from './adapters/delay-queue';
import { DynamoTable } from './adapters/dynamo-table';
import { LedgerStore } from './adapters/ledger-store';
import { NO_NOTIFIER, SnsNotifier } from './adapters/notifier';
import { Pacer } from './adapters/pacer';
import { CodePipelineAdapter } from './adapters/pipeline-state';
import { CachedPolicyReader } from './adapters/policy-cache';
import { DynamoPolicyReader } from './adapters/policy-reader';
import { PowertoolsLogAdapter, PowertoolsMetricsAdapter, pipelineDimensionsFrom } from './adapters/powertools';
import { ConfigurationError } from './domain/errors';
import { DEFAULT_SETTINGS, type ServiceDeps } from './service/deps';

/** A number from the environment, or `fallback` when it is unset or not `valid`. */
function envNumber(value: string | undefined, fallback: number, valid: (n: number) => boolean): number {
  const n = Number(value ?? fallback);
  return Number.isFinite(n) && valid(n) ? n : fallback;
}

/** Builds the production dependencies from the environment; SDK clients honour AWS_ENDPOINT_URL_*. */
export function depsFromEnvironment(env: NodeJS.ProcessEnv = process.env, clock: () => Date = () => new Date()): ServiceDeps {
  const tableName = env[FunctionEnv.TableName];
  const queueUrl = env[FunctionEnv.RetryQueueUrl];
  const missing = [!tableName && FunctionEnv.TableName, !queueUrl && FunctionEnv.RetryQueueUrl].filter(Boolean);
  if (!tableName || !queueUrl) throw new ConfigurationError([`environment variable ${missing.join(' and ')} is not set`]);
  const retentionDays = envNumber(env[FunctionEnv.LedgerRetentionDays], 30, (n) => n > 0);
  // POLICY_CACHE_SECONDS: 0 turns the cache off.
  const policyCacheSeconds = envNumber(env[FunctionEnv.PolicyCacheSeconds], 10, (n) => n >= 0);
  const leaseSeconds = envNumber(env[FunctionEnv.LeaseSeconds], DEFAULT_SETTINGS.leaseSeconds, (n) => n >= 30);
  // Each instance spends its share of the product's CodePipeline rate, with room for one failure's calls at once.
  const rate = envNumber(env[FunctionEnv.CodePipelineRequestsPerSecond], 10, (n) => n > 0);
  const instances = envNumber(env[FunctionEnv.MaxConcurrency], 10, (n) => n >= 1);
  const pacer = new Pacer(rate / instances, Math.max(3, Math.ceil((rate / instances) * 3)), () => clock().getTime());
  const table = new DynamoTable(tableName, new DynamoDBClient(clientConfig()));
  const topicArn = env[FunctionEnv.NotifyTopicArn];
  return {
    // Reads may be resent; RetryStageExecution never is (its own client, one attempt).
    pipelines: new CodePipelineAdapter(
      new CodePipelineClient(clientConfig({ maxAttempts: 2 })),
      new CodePipelineClient(clientConfig({ maxAttempts: 1 })),
      pacer,
    ),
    policies: new CachedPolicyReader(new DynamoPolicyReader(table), policyCacheSeconds),
    ledger: new LedgerStore(table, retentionDays * 86_400),
    delays: new DelayQueue(queueUrl, new SQSClient(clientConfig())),
    logger: new PowertoolsLogAdapter(),
    metrics: new PowertoolsMetricsAdapter(pipelineDimensionsFrom(env[FunctionEnv.MetricPipelines])),
    notifier: topicArn ? new SnsNotifier(topicArn, new SNSClient(clientConfig())) : NO_NOTIFIER,
    clock,
    newToken: randomUUID,
    random: Math.random,
    budgets: new BudgetStore(table),
    settings: { ...DEFAULT_SETTINGS, leaseSeconds },
    match: boundedMatch,
  };
}
