import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { PipelineAutoRetry, type PipelineAutoRetryProps } from './pipeline-auto-retry';

export interface AutoRetryStackProps extends StackProps {
  /** The `autoRetry` configuration (from cdk.json context) and construct options. */
  readonly autoRetry?: PipelineAutoRetryProps;
}

/** The deployable stack: one PipelineAutoRetry and the outputs the CLI and operators need. */
export class AutoRetryStack extends Stack {
  public readonly autoRetry: PipelineAutoRetry;

  public constructor(scope: Construct, id: string, props: AutoRetryStackProps = {}) {
    super(scope, id, props);
    this.autoRetry = new PipelineAutoRetry(this, 'AutoRetry', props.autoRetry);
    new CfnOutput(this, 'TableName', { value: this.autoRetry.table.tableName, description: 'autoretry --table' });
    new CfnOutput(this, 'RetryQueueUrl', { value: this.autoRetry.delayQueue.queueUrl });
    new CfnOutput(this, 'RetryFunctionName', { value: this.autoRetry.retryFunction.functionName });
    new CfnOutput(this, 'FailedInvocationQueueUrl', { value: this.autoRetry.failedInvocationQueue.queueUrl });
    new CfnOutput(this, 'EventDeadLetterQueueUrl', { value: this.autoRetry.eventDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'DelayDeadLetterQueueUrl', { value: this.autoRetry.delayDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'NotificationsTopicArn', { value: this.autoRetry.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: this.autoRetry.operations.dashboard.dashboardName });
  }
}
