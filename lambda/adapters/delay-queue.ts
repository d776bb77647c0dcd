import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { TransientFaultError } from '../domain/errors';
import { type DelayedRetryMessage, serializeDelayedRetry } from '../domain/events';
import type { DelayPort } from '../ports';

/** SQS's ceiling for DelaySeconds on a standard queue; longer waits are chained. */
export const MAX_DELAY_SECONDS = 900;

export class DelayQueue implements DelayPort {
  public constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({}),
  ) {}

  public async send(message: DelayedRetryMessage, delaySeconds: number): Promise<void> {
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: serializeDelayedRetry(message),
          DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds))),
        }),
      );
    } catch (error) {
      throw new TransientFaultError('could not send to the retry-delay queue', { cause: error });
    }
  }
}
