import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { StackOutput } from '../contract';
import { PipelineAutoRetry } from './pipeline-auto-retry';
import type { PipelineAutoRetryProps } from './props';

export interface AutoRetryStackProps extends StackProps {
  /**
   * The auto-retry's props (bin/app.ts reads them from cdk.json's `autoRetry` context).
   * @default - see PipelineAutoRetryProps
   */
  readonly autoRetry?: PipelineAutoRetryProps;
}

/** The deployable stack: one PipelineAutoRetry and the outputs the CLI and operators need. */
export class AutoRetryStack extends Stack {
  public readonly autoRetry: PipelineAutoRetry;

  public constructor(scope: Construct, id: string, props: AutoRetryStackProps = {}) {
    super(scope, id, props);
    // The stack names its outputs itself (fixed keys, as deployed stacks have them).
    const autoRetry = new PipelineAutoRetry(this, 'AutoRetry', { ...props.autoRetry, outputs: false });
    this.autoRetry = autoRetry;
    new CfnOutput(this, StackOutput.TableName, { value: autoRetry.table.tableName, description: StackOutput.TableDescription });
    new CfnOutput(this, 'RetryQueueUrl', { value: autoRetry.delayQueue.queueUrl });
    new CfnOutput(this, 'RetryFunctionName', { value: autoRetry.retryFunction.functionName });
    new CfnOutput(this, 'FailedInvocationQueueUrl', { value: autoRetry.failedInvocationQueue.queueUrl });
    new CfnOutput(this, 'EventDeadLetterQueueUrl', { value: autoRetry.eventDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'DelayDeadLetterQueueUrl', { value: autoRetry.delayDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'NotificationsTopicArn', { value: autoRetry.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: autoRetry.dashboard.dashboardName });
    if (autoRetry.centralBus) {
      new CfnOutput(this, 'CentralBusArn', {
        value: autoRetry.centralBus.eventBusArn,
        description: 'member stacks forward their stage events here',
      });
    }
    new CfnOutput(this, 'OperatorPolicyArn', {
      value: autoRetry.operatorPolicy.managedPolicyArn,
      description: 'attach to the roles of operators who run the autoretry CLI',
    });
  }
}
