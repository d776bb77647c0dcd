import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { LoopbackServer } from './loopback-server';

/**
 * A local SQS standard queue speaking the AWS JSON 1.0 protocol the v3 SDK uses
 * (X-Amz-Target: AmazonSQS.<Operation>). It returns the body MD5 that the SDK checks and keeps
 * DelaySeconds against its own clock, which tests can move.
 */
export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly delaySeconds: number;
  readonly sentAt: number;
  readonly visibleAt: number;
  receiveCount: number;
}

export class SqsEmulator extends LoopbackServer {
  public readonly queueName = 'retry-delay';
  public readonly account = '000000000000';
  private messages: QueuedMessage[] = [];
  public readonly sent: QueuedMessage[] = [];
  /** Epoch milliseconds; tests may replace it to line up with an injected clock. */
  public now: () => number = () => Date.now();
  /** The next N SendMessage calls fail with a 500. */
  public failNextSends = 0;

  public get queueUrl(): string {
    return `${this.endpoint}/${this.account}/${this.queueName}`;
  }

  public get queueArn(): string {
    return `arn:aws:sqs:us-east-1:${this.account}:${this.queueName}`;
  }

  public reset(): void {
    this.messages = [];
    this.sent.length = 0;
    this.deadLettered.length = 0;
    this.failNextSends = 0;
  }

  /** Messages still in the queue, visible or not. */
  public pending(): readonly QueuedMessage[] {
    return this.messages;
  }

  /** Removes and returns the messages visible now, as the SQS event Lambda would receive. */
  public takeVisible(): SQSEvent | undefined {
    const now = this.now();
    const visible = this.messages.filter((m) => m.visibleAt <= now);
    if (visible.length === 0) return undefined;
    this.messages = this.messages.filter((m) => m.visibleAt > now);
    return { Records: visible.map((m) => this.toRecord(m)) };
  }

  /** Puts messages back, as SQS does with the batchItemFailures of a partial batch response. */
  public returnToQueue(records: readonly SQSRecord[], visibilityTimeoutSeconds = 0): void {
    for (const r of records) {
      const original = this.sent.find((m) => m.messageId === r.messageId);
      const received = Number(r.attributes.ApproximateReceiveCount ?? '1');
      if (original) this.messages.push({ ...original, visibleAt: this.now() + visibilityTimeoutSeconds * 1000, receiveCount: received });
    }
  }

  /** Messages moved to the dead-letter queue after too many receives. */
  public readonly deadLettered: SQSRecord[] = [];

  public deadLetter(records: readonly SQSRecord[]): void {
    this.deadLettered.push(...records);
  }

  private toRecord(m: QueuedMessage): SQSRecord {
    return {
      messageId: m.messageId,
      receiptHandle: `rh-${m.messageId}`,
      body: m.body,
      attributes: {
        ApproximateReceiveCount: String(m.receiveCount + 1),
        SentTimestamp: String(m.sentAt),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(this.now()),
      },
      messageAttributes: {},
      md5OfBody: md5(m.body),
      eventSource: 'aws:sqs',
      eventSourceARN: this.queueArn,
      awsRegion: 'us-east-1',
    };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await LoopbackServer.readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.replace(/^AmazonSQS\./, '');
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(text || '{}') as Record<string, unknown>;
    } catch {
      return this.send(res, 400, { __type: 'com.amazonaws.sqs#InvalidParameterValue', message: 'body is not JSON' });
    }
    if (operation !== 'SendMessage') {
      return this.send(res, 400, { __type: 'com.amazonaws.sqs#UnsupportedOperation', message: `${operation} is not emulated` });
    }
    if (this.failNextSends > 0) {
      this.failNextSends -= 1;
      return this.send(res, 500, { __type: 'com.amazonaws.sqs#InternalError', message: 'injected failure' });
    }
    if (typeof input.QueueUrl !== 'string' || !input.QueueUrl.endsWith(`/${this.queueName}`)) {
      return this.send(res, 400, { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' });
    }
    const body = input.MessageBody;
    const delay = input.DelaySeconds ?? 0;
    if (typeof body !== 'string' || body.length === 0) {
      return this.send(res, 400, { __type: 'com.amazonaws.sqs#InvalidParameterValue', message: 'MessageBody is required' });
    }
    if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > 900) {
      return this.send(res, 400, {
        __type: 'com.amazonaws.sqs#InvalidParameterValue',
        message: `Value ${String(delay)} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.`,
      });
    }
    const now = this.now();
    const message: QueuedMessage = {
      messageId: randomUUID(),
      body,
      delaySeconds: delay,
      sentAt: now,
      visibleAt: now + delay * 1000,
      receiveCount: 0,
    };
    this.messages.push(message);
    this.sent.push(message);
    return this.send(res, 200, { MessageId: message.messageId, MD5OfMessageBody: md5(body) });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    LoopbackServer.sendJson(res, status, 'application/x-amz-json-1.0', body, randomUUID());
  }
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}
