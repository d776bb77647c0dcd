import * as path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../lambda/adapters/table-keys';
import { EVENT_SOURCE, STAGE_DETAIL_TYPE } from '../lambda/domain/events';
import { type AutoRetryConfig, parseAutoRetryConfig, type ResolvedConfig } from './config';

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

function acknowledgeRuntime(fn: lambda.IFunction): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'Pinned to Node.js 22, the runtime the product is built and tested for; runtime upgrades are deliberate releases.',
  });
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
  public readonly config: ResolvedConfig;

  public constructor(scope: Construct, id: string, props: PipelineAutoRetryProps = {}) {
    super(scope, id);
    this.config = parseAutoRetryConfig(
      { watch: props.watch, default: props.default, pipelines: props.pipelines, ledgerRetentionDays: props.ledgerRetentionDays },
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
      Validations.of(dlq).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself a dead-letter queue; it needs no DLQ of its own.',
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
      },
      onFailure: new SqsDestination(this.failedInvocationQueue),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
    this.table.grantReadWriteData(role);
    this.delayQueue.grantSendMessages(role);
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
      ...wildcards.map((resource) => ({
        id: `AwsSolutions-IAM5[Resource::${nagArn(stack, 'codepipeline', resource)}]`,
        reason:
          resource === '*'
            ? 'autoRetry.watch is "all": the operator chose to watch every pipeline of this account and region. No action is a wildcard.'
            : 'RetryStageExecution is authorised on stage ARNs (pipeline/stage); this covers the stages of one watched pipeline only.',
      })),
    );
    acknowledgeRuntime(this.retryFunction);

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
    this.rule.addTarget(
      new targets.LambdaFunction(this.retryFunction, {
        deadLetterQueue: this.eventDeadLetterQueue,
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      }),
    );

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
    );

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
