import * as path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../lambda/adapters/table-keys';
import { EVENT_SOURCE, STAGE_DETAIL_TYPE } from '../lambda/domain/events';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../lambda/observability';
import { type AutoRetryConfig, parseAutoRetryConfig, type ResolvedConfig } from './config';
import { AutoRetryOperations } from './operations';

export interface PipelineAutoRetryProps extends AutoRetryConfig {
  /**
   * How long the functions' logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the policy and ledger table when the stack is deleted.
   * @default RemovalPolicy.RETAIN — operators' policies and the retry history outlive the stack
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * Timeout of the retry function. The ledger lease (120 s) must stay well above it.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
}

const LAMBDA_DIR = path.join(__dirname, '..', 'lambda');
const PROJECT_ROOT = path.join(__dirname, '..');

/** Shared function settings: Node.js 22 on Graviton, bundled by the local esbuild (never Docker). */
function functionDefaults(logGroup: logs.ILogGroup, role: iam.IRole): Partial<NodejsFunctionProps> {
  return {
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    tracing: lambda.Tracing.ACTIVE,
    logGroup,
    role,
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
    bundling: {
      minify: true,
      sourceMap: true,
      target: 'node22',
      forceDockerBundling: false,
      // The v3 SDK in the Lambda runtime is not pinned to ours; bundle the clients we tested with.
      externalModules: [],
    },
    environment: { NODE_OPTIONS: '--enable-source-maps' },
  };
}

/** An ARN as cdk-nag prints it in a finding: unresolved tokens become <AWS::Pseudo> names. */
function nagArn(stack: Stack, service: string, resource: string): string {
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return `arn:<AWS::Partition>:${service}:${region}:${account}:${resource}`;
}

/** Active tracing grants xray:PutTraceSegments and PutTelemetryRecords, which have no resource-level permissions. */
function acknowledgeTracing(role: iam.IRole): void {
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'Only X-Ray PutTraceSegments/PutTelemetryRecords (active tracing), which support no resource-level permissions.',
  });
}

function acknowledgeRuntime(fn: lambda.IFunction): void {
  const reason = 'Pinned to Node.js 22, the runtime the product is built and tested for; runtime upgrades are deliberate releases.';
  Validations.of(fn).acknowledge({ id: 'AwsSolutions-L1', reason }, { id: 'Serverless-LambdaLatestVersion', reason });
}

/**
 * Retries failed CodePipeline stages automatically: an EventBridge rule for stage FAILED events,
 * the retry function, a DynamoDB table of policies and attempts, and an SQS delay queue for
 * cooldowns. Policies from props are written to the table at deploy without overwriting
 * policies an operator changed at run time with the `autoretry` CLI.
 */
export class PipelineAutoRetry extends Construct {
  public readonly table: dynamodb.Table;
  public readonly retryFunction: NodejsFunction;
  public readonly delayQueue: sqs.Queue;
  public readonly delayDeadLetterQueue: sqs.Queue;
  /** Events EventBridge could not deliver to the function. */
  public readonly eventDeadLetterQueue: sqs.Queue;
  /** Events the function failed on after Lambda's own retries (async on-failure destination). */
  public readonly failedInvocationQueue: sqs.Queue;
  public readonly rule: events.Rule;
  /** Stage SUCCEEDED events after a retry: how recoveries are counted. */
  public readonly recoveryRule: events.Rule;
  /** Notifications (exhausted retries, failures not retried, circuit open) and alarms. */
  public readonly topic: sns.Topic;
  public readonly operations: AutoRetryOperations;
  public readonly config: ResolvedConfig;

  public constructor(scope: Construct, id: string, props: PipelineAutoRetryProps = {}) {
    super(scope, id);
    this.config = parseAutoRetryConfig(
      {
        watch: props.watch,
        default: props.default,
        pipelines: props.pipelines,
        ledgerRetentionDays: props.ledgerRetentionDays,
        notifications: props.notifications,
        alarms: props.alarms,
        metrics: props.metrics,
      },
      'autoRetry',
    );
    const stack = Stack.of(this);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const timeout = props.timeout ?? Duration.seconds(30);

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    const queue = (name: string, extra: Partial<sqs.QueueProps> = {}) =>
      new sqs.Queue(this, name, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
        ...extra,
      });
    this.eventDeadLetterQueue = queue('EventDeadLetterQueue');
    this.failedInvocationQueue = queue('FailedInvocationQueue');
    this.delayDeadLetterQueue = queue('DelayDeadLetterQueue');
    this.delayQueue = queue('DelayQueue', {
      retentionPeriod: Duration.days(4),
      // Six times the function timeout, as Lambda recommends for SQS event sources.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.delayDeadLetterQueue, maxReceiveCount: 5 },
    });
    for (const dlq of [this.eventDeadLetterQueue, this.failedInvocationQueue, this.delayDeadLetterQueue]) {
      Validations.of(dlq).acknowledge(
        { id: 'AwsSolutions-SQS3', reason: 'This queue is itself a dead-letter queue; it needs no DLQ of its own.' },
        {
          id: 'Serverless-SQSRedrivePolicy',
          reason: 'This queue is itself a dead-letter queue; messages stay here for an operator (and raise an alarm).',
        },
      );
    }

    // Notifications and alarms: a topic encrypted with our own key, which CloudWatch may use to
    // publish alarms (an AWS-managed SNS key would not let it).
    const topicKey = new kms.Key(this, 'NotificationsKey', {
      enableKeyRotation: true,
      description: 'codepipeline-auto-retry notifications topic',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    topicKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new sns.Topic(this, 'Notifications', {
      displayName: 'codepipeline-auto-retry',
      masterKey: topicKey,
      enforceSSL: true,
    });
    for (const email of this.config.emails) {
      const subscription = this.topic.addSubscription(new subscriptions.EmailSubscription(email));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'SNS retries email delivery itself; a notification that is lost loses no retry decision, which the ledger, the logs and the metrics keep.',
      });
    }
    if (this.config.slack) {
      new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: `${Stack.of(this).stackName}-auto-retry`.slice(0, 128),
        slackWorkspaceId: this.config.slack.workspaceId,
        slackChannelId: this.config.slack.channelId,
        notificationTopics: [this.topic],
        loggingLevel: chatbot.LoggingLevel.ERROR,
      });
    }

    const logGroup = new logs.LogGroup(this, 'RetryFunctionLogs', { retention, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'RetryFunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'codepipeline-auto-retry: read pipeline state and retry failed stages',
    });
    logGroup.grantWrite(role);

    this.retryFunction = new NodejsFunction(this, 'RetryFunction', {
      ...functionDefaults(logGroup, role),
      entry: path.join(LAMBDA_DIR, 'handler.ts'),
      handler: 'handler',
      description: 'Retries failed CodePipeline stages according to policy',
      timeout,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        TABLE_NAME: this.table.tableName,
        RETRY_QUEUE_URL: this.delayQueue.queueUrl,
        LEDGER_RETENTION_DAYS: String(this.config.ledgerRetentionDays),
        NOTIFY_TOPIC_ARN: this.topic.topicArn,
        METRIC_PIPELINES: (this.config.metricPipelines ?? []).join(','),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
      },
      onFailure: new SqsDestination(this.failedInvocationQueue),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
    this.table.grantReadWriteData(role);
    this.delayQueue.grantSendMessages(role);
    this.topic.grantPublish(role);
    this.retryFunction.addEventSource(
      new SqsEventSource(this.delayQueue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 10 }),
    );

    const pipelineArn = (name: string) => stack.formatArn({ service: 'codepipeline', resource: name });
    const watched = this.config.watch;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadPipelines',
        actions: ['codepipeline:GetPipelineState', 'codepipeline:GetPipeline'],
        resources: watched === 'all' ? [pipelineArn('*')] : watched.map(pipelineArn),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RetryStages',
        actions: ['codepipeline:RetryStageExecution'],
        resources: watched === 'all' ? [pipelineArn('*')] : watched.map((p) => `${pipelineArn(p)}/*`),
      }),
    );
    const wildcards = watched === 'all' ? ['*'] : watched.map((p) => `${p}/*`);
    Validations.of(role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason:
          'Granted by topic.grantPublish on the notifications topic’s own key only; GenerateDataKey* is the action family SNS needs for encrypted publishing.',
      },
      ...wildcards.map((resource) => ({
        id: `AwsSolutions-IAM5[Resource::${nagArn(stack, 'codepipeline', resource)}]`,
        reason:
          resource === '*'
            ? 'autoRetry.watch is "all": the operator chose to watch every pipeline of this account and region. No action is a wildcard.'
            : 'RetryStageExecution is authorised on stage ARNs (pipeline/stage); this covers the stages of one watched pipeline only.',
      })),
    );
    acknowledgeRuntime(this.retryFunction);
    acknowledgeTracing(role);
    Validations.of(this.retryFunction).acknowledge(
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

    this.rule = new events.Rule(this, 'StageFailedRule', {
      description: 'CodePipeline stage FAILED events for codepipeline-auto-retry',
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: [STAGE_DETAIL_TYPE],
        detail: {
          state: ['FAILED'],
          ...(watched === 'all' ? {} : { pipeline: [...watched] }),
        },
      },
    });
    const target = new targets.LambdaFunction(this.retryFunction, {
      deadLetterQueue: this.eventDeadLetterQueue,
      retryAttempts: 185,
      maxEventAge: Duration.hours(24),
    });
    this.rule.addTarget(target);

    // Successes matter only after a retry (to count recoveries); CodePipeline marks those events
    // with stage-last-retry-attempt-time, so every other success costs nothing.
    this.recoveryRule = new events.Rule(this, 'StageSucceededAfterRetryRule', {
      description: 'CodePipeline stage SUCCEEDED events after a retry, for codepipeline-auto-retry recoveries',
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: [STAGE_DETAIL_TYPE],
        detail: {
          state: ['SUCCEEDED'],
          'stage-last-retry-attempt-time': [{ exists: true }],
          ...(watched === 'all' ? {} : { pipeline: [...watched] }),
        },
      },
    });
    this.recoveryRule.addTarget(target);

    this.operations = new AutoRetryOperations(this, 'Operations', {
      retryFunction: this.retryFunction,
      deadLetterQueues: {
        'event dead-letter queue': this.eventDeadLetterQueue,
        'failed-invocation queue': this.failedInvocationQueue,
        'delay dead-letter queue': this.delayDeadLetterQueue,
      },
      delayQueue: this.delayQueue,
      topic: this.topic,
      exhaustedPerHour: this.config.exhaustedPerHour,
    });

    this.seedPolicies(retention);
  }

  /** Writes the configured policies at every deploy where they change. */
  private seedPolicies(retention: logs.RetentionDays): void {
    const logGroup = new logs.LogGroup(this, 'SeedFunctionLogs', { retention, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'SeedFunctionRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    this.table.grantReadWriteData(role);
    const seedFunction = new NodejsFunction(this, 'SeedFunction', {
      ...functionDefaults(logGroup, role),
      entry: path.join(LAMBDA_DIR, 'seed-policies.ts'),
      handler: 'onEvent',
      description: 'Writes codepipeline-auto-retry policies from configuration',
      timeout: Duration.minutes(2),
    });
    acknowledgeRuntime(seedFunction);
    acknowledgeTracing(role);

    const provider = new Provider(this, 'SeedProvider', {
      onEventHandler: seedFunction,
      logGroup: new logs.LogGroup(this, 'SeedProviderLogs', { retention, removalPolicy: RemovalPolicy.DESTROY }),
    });
    const seedLogicalId = Stack.of(this).getLogicalId(seedFunction.node.defaultChild as lambda.CfnFunction);
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
    );
    Validations.of(seedFunction).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: 'Invoked synchronously by the Provider framework, which reports its failure to CloudFormation; there is no event to keep.',
    });

    new CustomResource(this, 'Policies', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::AutoRetryPolicies',
      properties: {
        TableName: this.table.tableName,
        Policies: JSON.stringify(this.config.policies),
      },
    });
  }
}
