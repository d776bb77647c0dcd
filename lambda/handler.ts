import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { MetricName } from '../contract';
import { InvalidInputError } from '../policy/errors';
import { JsonLogger } from './adapters/json-logger';
import { depsFromEnvironment } from './dependencies';
import { looksLikeEventBridgeEvent, parseDelayedRetry, parseStageEvent, type StageEvent } from './domain/events';
import type { Logger, MetricsPort } from './ports';
import { RetryService } from './service/retry-service';
import type { ServiceDeps } from './service/service-settings';

export type HandlerInput = unknown;
export type HandlerOutput = SQSBatchResponse | undefined;

/** The scheduled rule's event: the reconciler's wake-up. */
function isScheduledEvent(input: unknown): boolean {
  if (typeof input !== 'object' || input === null) return false;
  const event = input as { source?: unknown; 'detail-type'?: unknown };
  return event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event';
}

function isSqsEvent(input: unknown): input is SQSEvent {
  if (typeof input !== 'object' || input === null) return false;
  const records = (input as { Records?: unknown }).Records;
  return Array.isArray(records) && records.length > 0 && (records[0] as { eventSource?: unknown })?.eventSource === 'aws:sqs';
}

/**
 * The single Lambda entry for its three inputs: EventBridge stage events, delay-queue batches and
 * the reconciler's scheduled wake-up.
 * Dependencies are built once per instance, on the first call, so a missing variable is
 * reported as an invocation error instead of an opaque init failure.
 */
export function createHandler(makeDeps: () => ServiceDeps): (input: HandlerInput) => Promise<HandlerOutput> {
  let service: RetryService | undefined;
  let logger: Logger = new JsonLogger();
  let metrics: MetricsPort | undefined;
  const get = (): RetryService => {
    if (!service) {
      const deps = makeDeps();
      logger = deps.logger;
      metrics = deps.metrics;
      service = new RetryService(deps);
    }
    return service;
  };
  /** Input we cannot read at all: one error line and a metric, so a dashboard sees it too. */
  const malformed = (message: string, fields: Record<string, unknown>, source: 'event' | 'queue') => {
    logger.log('error', message, fields);
    metrics?.count(MetricName.MalformedInput, '-', { dimensions: {}, metadata: { source } });
  };

  return async (input) => {
    const svc = get();
    if (isSqsEvent(input)) return handleBatch(svc, logger, input, malformed);
    if (isScheduledEvent(input)) {
      await svc.reconcile();
      return undefined;
    }
    if (!looksLikeEventBridgeEvent(input)) {
      malformed('malformed input: neither an EventBridge event nor an SQS batch', { error: summarize(input) }, 'event');
      return undefined;
    }
    let event: StageEvent;
    try {
      event = parseStageEvent(input);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      const id = (input as { id?: unknown }).id;
      malformed(
        'malformed event: not retried',
        { error: error.message, eventId: typeof id === 'string' ? id.slice(0, 64) : undefined },
        'event',
      );
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

async function handleBatch(
  svc: RetryService,
  logger: Logger,
  event: SQSEvent,
  malformed: (message: string, fields: Record<string, unknown>, source: 'queue') => void,
): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  await Promise.all(
    event.Records.map(async (record) => {
      try {
        await svc.handleDelayed(parseDelayedRetry(record.body));
      } catch (error) {
        // Malformed bodies and faults alike go back to the queue; after maxReceiveCount the
        // queue moves them to its DLQ, so nothing is dropped silently.
        if (error instanceof InvalidInputError) {
          malformed('malformed delay-queue message: left for the DLQ', { messageId: record.messageId, error }, 'queue');
        } else {
          logger.log('error', 'fault: delay-queue message returned to the queue', { messageId: record.messageId, error });
        }
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
