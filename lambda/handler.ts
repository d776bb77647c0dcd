import { randomUUID } from 'node:crypto';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { BudgetStore } from './adapters/budget-store';
import { DelayQueue } from './adapters/delay-queue';
import { LedgerStore } from './adapters/ledger-store';
import { NO_NOTIFIER, SnsNotifier } from './adapters/notifier';
import { CodePipelineAdapter } from './adapters/pipeline-state';
import { CachedPolicyReader } from './adapters/policy-cache';
import { PolicyStore } from './adapters/policy-store';
import { ConfigurationError, InvalidInputError } from './domain/errors';
import { looksLikeEventBridgeEvent, parseDelayedRetry, parseStageEvent, type StageEvent } from './domain/events';
import { JsonLogger, type Logger } from './log';
import { PowertoolsLogAdapter, PowertoolsMetricsAdapter, pipelineDimensionsFrom } from './observability';
import { DEFAULT_SETTINGS, RetryService, type ServiceDeps } from './service';

export type HandlerInput = unknown;
export type HandlerOutput = SQSBatchResponse | undefined;

function isSqsEvent(input: unknown): input is SQSEvent {
  if (typeof input !== 'object' || input === null) return false;
  const records = (input as { Records?: unknown }).Records;
  return Array.isArray(records) && records.length > 0 && (records[0] as { eventSource?: unknown })?.eventSource === 'aws:sqs';
}

/** A number from the environment, or `fallback` when it is unset or not `valid`. */
function envNumber(value: string | undefined, fallback: number, valid: (n: number) => boolean): number {
  const n = Number(value ?? fallback);
  return Number.isFinite(n) && valid(n) ? n : fallback;
}

/** Builds the production dependencies from the environment; SDK clients honour AWS_ENDPOINT_URL_*. */
export function depsFromEnvironment(env: NodeJS.ProcessEnv = process.env): ServiceDeps {
  const tableName = env.TABLE_NAME;
  const queueUrl = env.RETRY_QUEUE_URL;
  const missing = [!tableName && 'TABLE_NAME', !queueUrl && 'RETRY_QUEUE_URL'].filter(Boolean);
  if (!tableName || !queueUrl) throw new ConfigurationError([`environment variable ${missing.join(' and ')} is not set`]);
  const retentionDays = envNumber(env.LEDGER_RETENTION_DAYS, 30, (n) => n > 0);
  // POLICY_CACHE_SECONDS: 0 turns the cache off.
  const policyCacheSeconds = envNumber(env.POLICY_CACHE_SECONDS, 10, (n) => n >= 0);
  const dynamo = new DynamoDBClient({});
  return {
    pipelines: new CodePipelineAdapter(new CodePipelineClient({})),
    policies: new CachedPolicyReader(new PolicyStore(tableName, dynamo), policyCacheSeconds),
    ledger: new LedgerStore(tableName, dynamo, retentionDays * 86_400),
    delays: new DelayQueue(queueUrl, new SQSClient({})),
    logger: new PowertoolsLogAdapter(),
    metrics: new PowertoolsMetricsAdapter(pipelineDimensionsFrom(env.METRIC_PIPELINES)),
    notifier: env.NOTIFY_TOPIC_ARN ? new SnsNotifier(env.NOTIFY_TOPIC_ARN, new SNSClient({})) : NO_NOTIFIER,
    clock: () => new Date(),
    newToken: randomUUID,
    random: Math.random,
    budgets: new BudgetStore(tableName, dynamo),
    settings: DEFAULT_SETTINGS,
  };
}

/**
 * The single Lambda entry for both inputs: EventBridge stage events and delay-queue batches.
 * Dependencies are built once per instance, on the first call, so a missing variable is
 * reported as an invocation error instead of an opaque init failure.
 */
export function createHandler(makeDeps: () => ServiceDeps): (input: HandlerInput) => Promise<HandlerOutput> {
  let service: RetryService | undefined;
  let logger: Logger = new JsonLogger();
  const get = (): RetryService => {
    if (!service) {
      const deps = makeDeps();
      logger = deps.logger;
      service = new RetryService(deps);
    }
    return service;
  };

  return async (input) => {
    const svc = get();
    if (isSqsEvent(input)) return handleBatch(svc, logger, input);
    if (!looksLikeEventBridgeEvent(input)) {
      logger.log('error', 'malformed input: neither an EventBridge event nor an SQS batch', { error: summarize(input) });
      return undefined;
    }
    let event: StageEvent;
    try {
      event = parseStageEvent(input);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      const id = (input as { id?: unknown }).id;
      logger.log('error', 'malformed event: not retried', {
        error: error.message,
        eventId: typeof id === 'string' ? id.slice(0, 64) : undefined,
      });
      return undefined;
    }
    const { failure } = event;
    try {
      if (event.state === 'SUCCEEDED') await svc.handleSuccess(failure);
      else await svc.handleFailure(failure);
    } catch (error) {
      logger.log('error', 'fault: event handed back to Lambda for a later attempt', {
        pipeline: failure.pipeline,
        stage: failure.stage,
        executionId: failure.executionId,
        error,
      });
      throw error;
    }
    return undefined;
  };
}

async function handleBatch(svc: RetryService, logger: Logger, event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  await Promise.all(
    event.Records.map(async (record) => {
      try {
        await svc.handleDelayed(parseDelayedRetry(record.body));
      } catch (error) {
        // Malformed bodies and faults alike go back to the queue; after maxReceiveCount the
        // queue moves them to its DLQ, so nothing is dropped silently.
        const malformed = error instanceof InvalidInputError;
        logger.log(
          'error',
          malformed ? 'malformed delay-queue message: left for the DLQ' : 'fault: delay-queue message returned to the queue',
          {
            messageId: record.messageId,
            error,
          },
        );
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
}

function summarize(input: unknown): string {
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

export const handler = createHandler(() => depsFromEnvironment());
