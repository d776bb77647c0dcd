import { Stack, Token, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { PROVIDER_READS } from './defaults';

/**
 * Every cdk-nag finding the construct acknowledges, each with its reason. Nothing else is
 * suppressed: any other finding fails synth.
 */

/**
 * The partition as cdk-nag prints it in a finding: <AWS::Partition>, or the literal when the app
 * sets `@aws-cdk/core:enablePartitionLiterals` (as `cdk init` apps do) and the region is known.
 */
function nagPartition(stack: Stack): string {
  return Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
}

/** An ARN as cdk-nag prints it in a finding: unresolved tokens become <AWS::Pseudo> names. */
function nagArn(stack: Stack, service: string, resource: string): string {
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return `arn:${nagPartition(stack)}:${service}:${region}:${account}:${resource}`;
}

export function acknowledgeDeadLetterQueue(dlq: IConstruct): void {
  Validations.of(dlq).acknowledge(
    { id: 'AwsSolutions-SQS3', reason: 'This queue is itself a dead-letter queue; it needs no DLQ of its own.' },
    { id: 'CT.SQS.PR.1', reason: 'Control Tower: this queue is itself a dead-letter queue; a DLQ of a DLQ would only move the messages.' },
    {
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself a dead-letter queue; messages stay here for an operator (and raise an alarm).',
    },
  );
}

export function acknowledgeEmailSubscription(subscription: IConstruct): void {
  Validations.of(subscription).acknowledge({
    id: 'Serverless-SNSRedrivePolicy',
    reason:
      'SNS retries email delivery itself; a notification that is lost loses no retry decision, which the ledger, the logs and the metrics keep.',
  });
}

/** Active tracing grants xray:PutTraceSegments and PutTelemetryRecords, which have no resource-level permissions. */
export function acknowledgeTracing(role: iam.IRole): void {
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'Only X-Ray PutTraceSegments/PutTelemetryRecords (active tracing), which support no resource-level permissions.',
  });
}

export function acknowledgeRuntime(fn: lambda.IFunction): void {
  const reason = 'Pinned to Node.js 22, the runtime the product is built and tested for; runtime upgrades are deliberate releases.';
  Validations.of(fn).acknowledge({ id: 'AwsSolutions-L1', reason }, { id: 'Serverless-LambdaLatestVersion', reason }, NO_VPC);
}

/** Control Tower's CT.LAMBDA.PR.3 asks for a VPC; these functions only call AWS APIs over TLS. */
const NO_VPC = {
  id: 'CT.LAMBDA.PR.3',
  reason:
    'Control Tower: the function only calls AWS APIs (CodePipeline, DynamoDB, SQS, SNS) over TLS and reaches nothing in a network; a VPC would add NAT or endpoints and no protection.',
};

/** The pipeline grants' wildcards: the watched pipelines' stages, or every pipeline when watching all. */
function pipelineWildcards(role: iam.IRole, watch: 'all' | readonly string[], everyPipeline: string) {
  const stack = Stack.of(role);
  const wildcards = watch === 'all' ? ['*'] : watch.map((p) => `${p}/*`);
  return wildcards.map((resource) => ({
    id: `AwsSolutions-IAM5[Resource::${nagArn(stack, 'codepipeline', resource)}]`,
    reason:
      resource === '*'
        ? everyPipeline
        : 'RetryStageExecution is authorised on stage ARNs (pipeline/stage); this covers the stages of one watched pipeline only.',
  }));
}

/**
 * The provider reads' wildcards: which build, deployment or stack failed is known only from the
 * pipelines' structure at run time. Scoped to the account and region, one action per resource type.
 */
function providerReadWildcards(role: iam.IRole) {
  const stack = Stack.of(role);
  return PROVIDER_READS.map((r) => ({
    id: `AwsSolutions-IAM5[Resource::${nagArn(stack, r.service, r.resource)}]`,
    reason: `${r.action} reads ${r.why} to classify the failure; the resource is named by the failed action at run time, so only this account and region bound it. Read-only.`,
  }));
}

/** The retry role's wildcards. */
export function acknowledgeRetryRole(role: iam.IRole, watch: 'all' | readonly string[]): void {
  Validations.of(role).acknowledge(
    {
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason:
        'Granted by topic.grantPublish on the notifications topic’s own key only; GenerateDataKey* is the action family SNS needs for encrypted publishing.',
    },
    ...pipelineWildcards(
      role,
      watch,
      'autoRetry.watch is "all": the operator chose to watch every pipeline of this account and region. No action is a wildcard.',
    ),
    ...providerReadWildcards(role),
  );
}

export function acknowledgeRetryFunction(fn: lambda.IFunction): void {
  Validations.of(fn).acknowledge(
    {
      id: 'Serverless-LambdaDLQ',
      reason:
        'Events Lambda gives up on go to the on-failure destination (the failed-invocation queue), which keeps more context than a DLQ.',
    },
    {
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        'SQS event sources cannot have an on-failure destination; failed delay messages go to the delay queue’s own DLQ after 5 receives.',
    },
  );
}

/** The CDK Provider framework's own function and role, created by aws-cdk-lib. */
export function acknowledgeSeedProvider(provider: IConstruct, seedFunction: lambda.Function): void {
  const seedLogicalId = Stack.of(provider).getLogicalId(seedFunction.node.defaultChild as lambda.CfnFunction);
  Validations.of(provider).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The CDK Provider framework function (created by aws-cdk-lib) uses the AWS managed basic execution role for its logs.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::<${seedLogicalId}.Arn>:*]`,
      reason: 'aws-cdk-lib lets the Provider framework invoke any version of the seed function, and nothing else.',
    },
    {
      id: 'Serverless-LambdaDLQ',
      reason: 'CloudFormation invokes the Provider framework synchronously and gets its error; there is no event to keep.',
    },
    {
      id: 'Serverless-LambdaDefaultMemorySize',
      reason: 'The Provider framework function is created by aws-cdk-lib with its own sizing.',
    },
    {
      id: 'Serverless-LambdaTracing',
      reason: 'The Provider framework function is created by aws-cdk-lib; the seed function it calls is traced.',
    },
    NO_VPC,
  );
  Validations.of(seedFunction).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason: 'Invoked synchronously by the Provider framework, which reports its failure to CloudFormation; there is no event to keep.',
  });
}

/** The operators' policy may describe this stack: its ARN ends in an id CloudFormation makes up. */
export function acknowledgeOperatorPolicy(policy: iam.IManagedPolicy): void {
  const stack = Stack.of(policy);
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagArn(stack, 'cloudformation', `stack/${stack.stackName}/*`)}]`,
    reason: 'DescribeStacks on this one stack; a stack ARN ends in an id CloudFormation assigns, hence the trailing wildcard.',
  });
}

/** The member role holds the same CodePipeline and provider grants as the central function's, with the same reasons. */
export function acknowledgeMemberRole(role: iam.IRole, watch: 'all' | readonly string[]): void {
  Validations.of(role).acknowledge(
    ...pipelineWildcards(
      role,
      watch,
      'No watch list: every pipeline of this member account and region is served. No action is a wildcard.',
    ),
    ...providerReadWildcards(role),
  );
}

/** sts:AssumeRole on the member roles: one name per region, so the region part is a wildcard. */
export function acknowledgeMemberRoleAssumption(role: iam.IRole, accounts: readonly string[], base: string): void {
  Validations.of(role).acknowledge(
    ...accounts.map((account) => ({
      id: `AwsSolutions-IAM5[Resource::arn:${nagPartition(Stack.of(role))}:iam::${Token.isUnresolved(account) ? '<AWS::AccountId>' : account}:role/${base}-*]`,
      reason:
        account === '*'
          ? 'The member role of any account, only where that account is in the organization (aws:ResourceOrgID); the wildcard is the account and the region suffix of one role name.'
          : 'The member role of one member account: one role per region (IAM names are account-wide), so only the region suffix is a wildcard.',
    })),
  );
}
