import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

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

export class SqsEmulator {
  private server: Server | undefined;
  public readonly queueName = 'retry-delay';
  public readonly account = '000000000000';
  private messages: QueuedMessage[] = [];
  public readonly sent: QueuedMessage[] = [];
  /** Epoch milliseconds; tests may replace it to line up with an injected clock. */
  public now: () => number = () => Date.now();
  /** The next N SendMessage calls fail with a 500. */
  public failNextSends = 0;

  public async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this.endpoint;
  }

  public get endpoint(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('SQS emulator not started');
    return `http://127.0.0.1:${address.port}`;
  }

  public get queueUrl(): string {
    return `${this.endpoint}/${this.account}/${this.queueName}`;
  }

  public get queueArn(): string {
    return `arn:aws:sqs:us-east-1:${this.account}:${this.queueName}`;
  }

  public async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  public reset(): void {
    this.messages = [];
    this.sent.length = 0;
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
      if (original)
        this.messages.push({
          ...original,
          visibleAt: this.now() + visibilityTimeoutSeconds * 1000,
          receiveCount: original.receiveCount + 1,
        });
    }
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.replace(/^AmazonSQS\./, '');
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
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
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
    });
    res.end(text);
  }
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}
