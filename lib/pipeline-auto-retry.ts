import * as path from 'node:path';
import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { FunctionEnv, METRIC_NAMESPACE, SERVICE_NAME, StackOutput } from '../contract';
import { FUNCTIONS, type FunctionName, PACKAGE_ROOT, prebuiltAsset } from './bundling';
import {
  ASYNC_INVOCATION,
  DEFAULT_LOG_RETENTION,
  DEFAULT_RECONCILE_PERIOD,
  DEFAULT_TIMEOUT,
  delayQueueProps,
  delayQueueSource,
  EVENT_DELIVERY,
  functionProps,
  leaseSeconds,
  openClaimsIndexProps,
  queueProps,
  sourceBundling,
  tableProps,
} from './defaults';
import {
  acknowledgeDeadLetterQueue,
  acknowledgeEmailSubscription,
  acknowledgeOperatorPolicy,
  acknowledgeRetryFunction,
  acknowledgeRetryRole,
  acknowledgeRuntime,
  acknowledgeSeedProvider,
  acknowledgeTracing,
} from './nag-suppressions';
import { AutoRetryOperations } from './operations';
import { type ResolvedOrganization, type ResolvedProps, resolveOrReport } from './policies';
import type { PipelineAutoRetryProps } from './props';
import {
  allowAlarmsToPublish,
  grantMemberRoles,
  grantOpenClaimsQuery,
  grantPipelines,
  grantProviderReads,
  grantTableItems,
  OPERATOR_TABLE_ACCESS,
  onlyRoleMaySend,
  RETRY_FUNCTION_TABLE_ACCESS,
  SEEDER_TABLE_ACCESS,
  secureKey,
} from './security';
import { StageEvents, stageEventRules } from './stage-event-rules';

/**
 * Retries failed CodePipeline stages automatically: an EventBridge rule for stage FAILED events,
 * the retry function, a DynamoDB table of policies and attempts, and an SQS delay queue for
 * cooldowns. Policies from props are written to the table at deploy without overwriting
 * policies an operator changed at run time with the `autoretry` CLI.
 */
export class PipelineAutoRetry extends Construct {
  /** Policies, pause switches, budgets and the attempt ledger. */
  public readonly table: dynamodb.ITable;
  public readonly retryFunction: lambda.IFunction;
  /** Retries waiting for their cooldown. */
  public readonly delayQueue: sqs.IQueue;
  /** Delay-queue messages that failed five receives. */
  public readonly delayDeadLetterQueue: sqs.IQueue;
  /** Events EventBridge could not deliver to the function. */
  public readonly eventDeadLetterQueue: sqs.IQueue;
  /** Events the function failed on after Lambda's own retries (async on-failure destination). */
  public readonly failedInvocationQueue: sqs.IQueue;
  /** Stage FAILED events; more than one when a long watch list would overflow one event pattern. */
  public readonly rules: events.IRule[];
  /** Stage SUCCEEDED events after a retry: how recoveries are counted. */
  public readonly recoveryRules: events.IRule[];
  /** Encrypts the notifications topic (when the construct creates it) and every log group. */
  public readonly key: kms.IKey;
  /** The IAM actions the `autoretry` CLI needs on this deployment, for operators to attach. */
  public readonly operatorPolicy: iam.IManagedPolicy;
  /** Notifications (exhausted retries, failures not retried, circuit open) and alarms. */
  public readonly topic: sns.ITopic;
  /** What the auto-retry did and how healthy it is. */
  public readonly dashboard: cloudwatch.Dashboard;
  /** Alarms for anything stuck or lost; each notifies the topic. */
  public readonly alarms: cloudwatch.IAlarm[];
  /** The bus member accounts forward their stage events to (organization deployments only). */
  public readonly centralBus: events.IEventBus | undefined;
  /** Invokes the retry function every few minutes to move on claims past their deadline (the reconciler). */
  public readonly reconcileRule: events.IRule;

  public constructor(scope: Construct, id: string, props: PipelineAutoRetryProps = {}) {
    super(scope, id);
    // Bad props are reported as error annotations (one line each in `cdk synth`, which fails) and the defaults built.
    const { settings, props: built } = resolveOrReport(this, props);
    const timeout = built.timeout ?? DEFAULT_TIMEOUT;
    const logRetention = built.logRetention ?? DEFAULT_LOG_RETENTION;

    this.key = this.createKey();
    const table = new dynamodb.Table(this, 'Table', tableProps(built.tableRemovalPolicy));
    table.addGlobalSecondaryIndex(openClaimsIndexProps());
    this.table = table;
    this.eventDeadLetterQueue = this.createDeadLetterQueue('EventDeadLetterQueue');
    this.failedInvocationQueue = this.createDeadLetterQueue('FailedInvocationQueue');
    this.delayDeadLetterQueue = this.createDeadLetterQueue('DelayDeadLetterQueue');
    this.delayQueue = new sqs.Queue(this, 'DelayQueue', delayQueueProps(timeout, this.delayDeadLetterQueue));
    this.topic = this.createTopic(settings, built.notifications?.topic);
    this.retryFunction = this.createRetryFunction(settings, timeout, logRetention);
    this.retryFunction.addEventSource(new SqsEventSource(this.delayQueue, delayQueueSource(settings.reservedConcurrency)));
    const reconcileEvery = built.reconcileEvery ?? DEFAULT_RECONCILE_PERIOD;
    this.reconcileRule = this.createReconcileRule(reconcileEvery);
    this.rules = this.createRules(
      'StageFailedRule',
      'CodePipeline stage FAILED events for codepipeline-auto-retry',
      settings.watch,
      StageEvents.failed,
    );
    this.recoveryRules = this.createRules(
      'StageSucceededAfterRetryRule',
      'CodePipeline stage SUCCEEDED events after a retry, for codepipeline-auto-retry recoveries',
      settings.watch,
      StageEvents.succeededAfterRetry,
    );
    this.centralBus = settings.organization ? this.createCentralBus(settings.organization, settings) : undefined;
    const operations = this.createOperations(settings, reconcileEvery);
    this.dashboard = operations.dashboard;
    this.alarms = operations.alarms;
    this.createPolicySeeder(settings, logRetention);
    this.operatorPolicy = this.createOperatorPolicy();
    if (built.outputs !== false) this.createOutputs();
  }

  /** What an operator needs from the stack's outputs; the CLI finds the table by its output's description. */
  private createOutputs(): void {
    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: StackOutput.TableDescription });
    new CfnOutput(this, 'OperatorPolicyArn', {
      value: this.operatorPolicy.managedPolicyArn,
      description: 'codepipeline-auto-retry: attach to the roles of operators who run the autoretry CLI',
    });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName, description: 'codepipeline-auto-retry dashboard' });
  }

  /** One key for the topic and the log groups, usable by CloudWatch alarms and Logs under conditions. */
  private createKey(): kms.Key {
    const key = new kms.Key(this, 'EncryptionKey', {
      enableKeyRotation: true,
      description: 'codepipeline-auto-retry: notifications topic and log groups',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    secureKey(key);
    return key;
  }

  /**
   * A function from its pre-built asset (the installed package), or bundled from source at synth
   * (this repository). Either way the handler is `index.<export>`.
   */
  private createFunction(
    id: string,
    name: FunctionName,
    props: Omit<lambda.FunctionProps, 'code' | 'handler' | 'runtime'> & Pick<lambda.FunctionProps, 'runtime'>,
  ): lambda.Function {
    const { entry, handler } = FUNCTIONS[name];
    const environment = { NODE_OPTIONS: '--enable-source-maps', ...props.environment };
    const asset = prebuiltAsset(name);
    const code = asset
      ? lambda.Code.fromAsset(asset)
      : lambda.Code.fromAsset(path.join(PACKAGE_ROOT, 'lambda'), sourceBundling(path.join(PACKAGE_ROOT, `${entry}.ts`)));
    return new lambda.Function(this, id, { ...props, environment, code, handler: `index.${handler}` });
  }

  private createLogGroup(id: string, retention: logs.RetentionDays): logs.LogGroup {
    return new logs.LogGroup(this, id, { retention, encryptionKey: this.key, removalPolicy: RemovalPolicy.DESTROY });
  }

  private createDeadLetterQueue(id: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, queueProps());
    acknowledgeDeadLetterQueue(queue);
    return queue;
  }

  /**
   * Notifications and alarms: a topic encrypted with our own key, which CloudWatch may use to
   * publish alarms (an AWS-managed SNS key would not let it); or the operator's own topic.
   */
  private createTopic(settings: ResolvedProps, existing: sns.ITopic | undefined): sns.ITopic {
    let topic = existing;
    if (!topic) {
      topic = new sns.Topic(this, 'Notifications', { displayName: 'codepipeline-auto-retry', masterKey: this.key, enforceSSL: true });
      allowAlarmsToPublish(topic);
    }
    for (const email of settings.emails) {
      acknowledgeEmailSubscription(topic.addSubscription(new subscriptions.EmailSubscription(email)));
    }
    if (settings.slack) {
      new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: `${Stack.of(this).stackName}-auto-retry`.slice(0, 128),
        slackWorkspaceId: settings.slack.workspaceId,
        slackChannelId: settings.slack.channelId,
        notificationTopics: [topic],
        loggingLevel: chatbot.LoggingLevel.ERROR,
      });
    }
    return topic;
  }

  private createRetryFunction(settings: ResolvedProps, timeout: Duration, logRetention: logs.RetentionDays): lambda.IFunction {
    const logGroup = this.createLogGroup('RetryFunctionLogs', logRetention);
    const org = settings.organization;
    const role = new iam.Role(this, 'RetryFunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'codepipeline-auto-retry: read pipeline state and retry failed stages',
      // Member roles trust this role by ARN, so its name is fixed in an organization deployment.
      roleName: org ? settings.names.centralRole : undefined,
    });
    logGroup.grantWrite(role);
    const fn = this.createFunction('RetryFunction', 'retry', {
      ...functionProps(logGroup, role),
      description: 'Retries failed CodePipeline stages according to policy',
      timeout,
      reservedConcurrentExecutions: settings.reservedConcurrency,
      environment: {
        [FunctionEnv.LeaseSeconds]: String(leaseSeconds(timeout)),
        [FunctionEnv.CodePipelineRequestsPerSecond]: String(settings.codePipelineRequestsPerSecond),
        [FunctionEnv.MaxRateWaitSeconds]: String(timeout.toSeconds() / 4),
        ...(settings.classifyAllFailures ? { [FunctionEnv.ClassifyAllFailures]: 'true' } : {}),
        [FunctionEnv.TableName]: this.table.tableName,
        [FunctionEnv.RetryQueueUrl]: this.delayQueue.queueUrl,
        [FunctionEnv.LedgerRetentionDays]: String(settings.ledgerRetentionDays),
        [FunctionEnv.NotifyTopicArn]: this.topic.topicArn,
        [FunctionEnv.MetricPipelines]: (settings.metricPipelines ?? []).join(','),
        ...(org ? this.organizationEnvironment(org) : {}),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
      },
      onFailure: new SqsDestination(this.failedInvocationQueue),
      ...ASYNC_INVOCATION,
    });
    grantTableItems(this.table, role, RETRY_FUNCTION_TABLE_ACCESS, 'RetryFunctionTable');
    grantOpenClaimsQuery(this.table, role);
    this.delayQueue.grantSendMessages(role);
    onlyRoleMaySend(this.delayQueue, role);
    this.topic.grantPublish(role);
    grantPipelines(role, settings.watch);
    grantProviderReads(role);
    if (org) grantMemberRoles(role, org);
    acknowledgeRetryRole(role, settings.watch);
    acknowledgeRuntime(fn);
    acknowledgeTracing(role);
    acknowledgeRetryFunction(fn);
    return fn;
  }

  /**
   * The reconciler's wake-up: a schedule that invokes the retry function, which then moves on
   * every claim past its deadline (a holder that died, a delay message that was lost).
   */
  private createReconcileRule(every: Duration): events.Rule {
    return new events.Rule(this, 'ReconcileSchedule', {
      description: 'codepipeline-auto-retry: wakes claims past their deadline (the reconciler)',
      schedule: events.Schedule.rate(every),
      targets: [
        new targets.LambdaFunction(this.retryFunction, {
          deadLetterQueue: this.eventDeadLetterQueue,
          // A missed run is made up by the next one.
          retryAttempts: 2,
          maxEventAge: every,
        }),
      ],
    });
  }

  /** What the function needs to know of an organization deployment: where home is, who the members are. */
  private organizationEnvironment(org: ResolvedOrganization): Record<string, string> {
    const stack = Stack.of(this);
    return {
      [FunctionEnv.HomeAccount]: stack.account,
      [FunctionEnv.HomeRegion]: stack.region,
      [FunctionEnv.MemberAccounts]: org.accounts === '*' ? '*' : org.accounts.join(','),
      [FunctionEnv.MemberRegions]: org.regions.join(','),
      [FunctionEnv.MemberRoleName]: org.memberRoleName,
    };
  }

  /**
   * The bus member stacks forward to. Its policy admits PutEvents from the organization or the
   * listed accounts only (EventBridge refuses anyone else, and CloudTrail records the refusal);
   * its rules also match only members' events, and the function checks each event's account again.
   */
  private createCentralBus(org: ResolvedOrganization, settings: ResolvedProps): events.EventBus {
    const { watch } = settings;
    const bus = new events.EventBus(this, 'CentralBus', {
      eventBusName: settings.names.centralBus,
      description: 'codepipeline-auto-retry: stage events of member accounts',
    });
    bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'MembersPutStageEvents',
        actions: ['events:PutEvents'],
        resources: [bus.eventBusArn],
        ...(org.accounts === '*'
          ? { principals: [new iam.AnyPrincipal()], conditions: { StringEquals: { 'aws:PrincipalOrgID': org.organizationId } } }
          : { principals: org.accounts.map((a) => new iam.AccountPrincipal(a)) }),
      }),
    );
    const accounts = org.accounts === '*' ? undefined : [...new Set([Stack.of(this).account, ...org.accounts])];
    this.rules.push(
      ...this.createRules(
        'MemberStageFailedRule',
        'Member accounts: CodePipeline stage FAILED events',
        watch,
        StageEvents.failed,
        bus,
        accounts,
      ),
    );
    this.recoveryRules.push(
      ...this.createRules(
        'MemberStageSucceededAfterRetryRule',
        'Member accounts: CodePipeline stage SUCCEEDED events after a retry',
        watch,
        StageEvents.succeededAfterRetry,
        bus,
        accounts,
      ),
    );
    return bus;
  }

  /** Rules for stage events from the watched pipelines, to the retry function (its DLQ for undeliverable events). */
  private createRules(
    id: string,
    description: string,
    watch: 'all' | readonly string[],
    detail: Record<string, unknown>,
    eventBus?: events.IEventBus,
    accounts?: readonly string[],
  ): events.Rule[] {
    const target = new targets.LambdaFunction(this.retryFunction, { deadLetterQueue: this.eventDeadLetterQueue, ...EVENT_DELIVERY });
    return stageEventRules(this, {
      id,
      description,
      watch,
      detail,
      target,
      eventBus,
      accounts,
    });
  }

  /** A managed policy with exactly what the `autoretry` CLI calls, for operators' roles. */
  private createOperatorPolicy(): iam.ManagedPolicy {
    const stack = Stack.of(this);
    const policy = new iam.ManagedPolicy(this, 'OperatorPolicy', {
      description: 'codepipeline-auto-retry: what the autoretry CLI needs on this deployment',
      statements: [
        new iam.PolicyStatement({ sid: 'ReadTheTable', actions: [...OPERATOR_TABLE_ACCESS.reads], resources: [this.table.tableArn] }),
        new iam.PolicyStatement({
          sid: 'ChangePoliciesAndPauses',
          actions: [...OPERATOR_TABLE_ACCESS.writes],
          resources: [this.table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...OPERATOR_TABLE_ACCESS.writablePartitions] } },
        }),
        new iam.PolicyStatement({
          sid: 'FindTheTable',
          actions: ['cloudformation:DescribeStacks'],
          resources: [stack.formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${stack.stackName}/*` })],
        }),
      ],
    });
    acknowledgeOperatorPolicy(policy);
    return policy;
  }

  private createOperations(settings: ResolvedProps, reconcileEvery: Duration): AutoRetryOperations {
    return new AutoRetryOperations(this, 'Operations', {
      retryFunction: this.retryFunction,
      deadLetterQueues: {
        'event dead-letter queue': this.eventDeadLetterQueue,
        'failed-invocation queue': this.failedInvocationQueue,
        'delay dead-letter queue': this.delayDeadLetterQueue,
      },
      delayQueue: this.delayQueue,
      topic: this.topic,
      exhaustedPerHour: settings.exhaustedPerHour,
      reconcileEvery,
    });
  }

  /** A custom resource that writes the configured policies at every deploy where they change. */
  private createPolicySeeder(settings: ResolvedProps, logRetention: logs.RetentionDays): void {
    const logGroup = this.createLogGroup('SeedFunctionLogs', logRetention);
    const role = new iam.Role(this, 'SeedFunctionRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    grantTableItems(this.table, role, SEEDER_TABLE_ACCESS, 'SeedFunctionTable');
    const seedFunction = this.createFunction('SeedFunction', 'seed', {
      ...functionProps(logGroup, role),
      description: 'Writes codepipeline-auto-retry policies from configuration',
      timeout: Duration.minutes(2),
    });
    acknowledgeRuntime(seedFunction);
    acknowledgeTracing(role);

    const provider = new Provider(this, 'SeedProvider', {
      onEventHandler: seedFunction,
      logGroup: this.createLogGroup('SeedProviderLogs', logRetention),
    });
    acknowledgeSeedProvider(provider, seedFunction);
    new CustomResource(this, 'Policies', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::AutoRetryPolicies',
      properties: { TableName: this.table.tableName, Policies: JSON.stringify(settings.policies) },
    });
  }
}
