import { PublishCommand, SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import type { Publish } from './notifier';

/**
 * Publish through the SNS client. A module of its own, loaded when the first notice is sent:
 * most invocations send none, and the function's bundle keeps the SNS client in a chunk of its own.
 */
export function snsPublish(config: SNSClientConfig): Publish {
  const client = new SNSClient(config);
  return async (message) => {
    await client.send(new PublishCommand(message));
  };
}
