import { App, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AutoRetryStack } from '../../lib/auto-retry-stack';
import { type PipelineAutoRetryProps, StageRetryMode } from '../../lib/props';
import { synthErrors, synthWithNag } from '../support/nag';

const ENV = { account: '123456789012', region: 'eu-west-1' };

/** What `cdk synth` would print for these props before it fails: one line per problem. */
function problems(autoRetry: PipelineAutoRetryProps): string[] {
  return synthErrors(new AutoRetryStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test', { env: ENV, autoRetry }));
}

function synth(autoRetry: PipelineAutoRetryProps): Template {
  // Prepare: no bundling; these tests look at the template, not the function code.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AutoRetryStack(app, 'Test', { env: ENV, autoRetry });
  return Template.fromStack(stack);
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
}

/** An ARN as the template writes it: its partition a reference. */
const partitioned = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });

describe('Construct: PipelineAutoRetry', () => {
  describe('EventBridge rule', () => {
    it('matches FAILED stage events from every pipeline when watching all', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.codepipeline'],
          'detail-type': ['CodePipeline Stage Execution State Change'],
          detail: { state: ['FAILED'], pipeline: Match.absent() },
        },
      });
    });

    it('filters on the listed pipelines when the configuration names them', () => {
      // Act
      const template = synth({ watchedPipelines: ['web-app', 'api'] });

      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { detail: { state: ['FAILED'], pipeline: ['web-app', 'api'] } },
      });
    });

    it('targets the function with a retry policy and an encrypted dead-letter queue', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        Targets: [
          Match.objectLike({
            RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('EventDeadLetterQueue'), 'Arn'] } },
          }),
        ],
      });
    });
  });

  describe('retry function', () => {
    it('runs Node.js 22 on arm64 with the table and delay queue in its environment', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Environment: {
          Variables: Match.objectLike({
            TABLE_NAME: { Ref: Match.stringLikeRegexp('AutoRetryTable') },
            RETRY_QUEUE_URL: { Ref: Match.stringLikeRegexp('DelayQueue') },
          }),
        },
        LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('RetryFunctionLogs') } },
      });
    });

    it('keeps log retention and sends events it gives up on to a queue', () => {
      // Act
      const template = synth({});

      // Assess
      const groups = Object.values(template.findResources('AWS::Logs::LogGroup')) as { Properties: Record<string, unknown> }[];
      expect(groups).toHaveLength(3);
      for (const group of groups) {
        expect(group.Properties).toEqual(
          expect.objectContaining({ RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/EncryptionKey/), 'Arn'] } }),
        );
      }
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('FailedInvocationQueue'), 'Arn'] } } },
      });
    });

    it('consumes the delay queue with partial batch responses', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DelayQueue'), 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });
  });

  describe('table', () => {
    it('is on-demand, encrypted, point-in-time recoverable, with a TTL and retained on delete', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        Properties: {
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true },
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        },
      });
    });

    it('has a keys-only sparse index of records with open claims, by deadline, for the reconciler', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        GlobalSecondaryIndexes: [
          {
            IndexName: 'OpenClaims',
            KeySchema: [
              { AttributeName: 'openShard', KeyType: 'HASH' },
              { AttributeName: 'openUntil', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      });
    });
  });

  describe('the reconciler', () => {
    it.each([
      ['by default every 5 minutes', {}, 'rate(5 minutes)'],
      ['as often as reconcileEvery says', { reconcileEvery: Duration.minutes(2) }, 'rate(2 minutes)'],
    ])('invokes the retry function on a schedule, %s', (_case, props, expression) => {
      // Act
      const template = synth(props);

      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: expression,
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RetryFunction'), 'Arn'] },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('EventDeadLetterQueue'), 'Arn'] } },
          }),
        ],
      });
    });

    it('may query the open-claims index and no other index', () => {
      // Act
      const template = synth({});

      // Assess
      const queries = statements(template).filter((st) => st.Effect === 'Allow' && [st.Action].flat().includes('dynamodb:Query'));
      const indexResources = queries.flatMap((st) => [st.Resource].flat()).filter((r) => JSON.stringify(r).includes('/index/'));
      expect(indexResources).toEqual([
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/Table/), 'Arn'] }, '/index/OpenClaims']] },
      ]);
    });

    it.each([[Duration.seconds(30)], [Duration.minutes(90)], [Duration.seconds(150)]])(
      'refuses a reconcileEvery of %s with one line naming the setting',
      (every) => {
        // Act
        const found = problems({ reconcileEvery: every });

        // Assess
        expect(found).toEqual([`props.reconcileEvery must be whole minutes from 1 to 60, got ${every.toSeconds()} seconds`]);
      },
    );
  });

  describe('queues', () => {
    it('encrypts every queue and denies non-TLS access to each', () => {
      // Act
      const template = synth({});

      // Assess
      const queues = template.findResources('AWS::SQS::Queue');
      expect(Object.keys(queues)).toHaveLength(4);
      for (const queue of Object.values(queues)) {
        expect((queue as { Properties: Record<string, unknown> }).Properties.SqsManagedSseEnabled).toBe(true);
      }
      const policies = template.findResources('AWS::SQS::QueuePolicy', {
        Properties: {
          PolicyDocument: {
            Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
          },
        },
      });
      const covered = Object.values(policies).flatMap((p) => (p as { Properties: { Queues: unknown[] } }).Properties.Queues);
      expect(covered).toHaveLength(4);
    });

    it('gives the delay queue its own dead-letter queue and a visibility timeout six times the function timeout', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::SQS::Queue', {
        VisibilityTimeout: 180,
        RedrivePolicy: {
          maxReceiveCount: 5,
          deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DelayDeadLetterQueue'), 'Arn'] },
        },
      });
    });
  });

  describe('least privilege and forged input', () => {
    it('denies sending to the delay queue to every principal but the retry function’s role', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: Match.stringLikeRegexp('DelayQueue') }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'sqs:SendMessage',
              Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('RetryFunctionRole'), 'Arn'] } } },
            }),
          ]),
        },
      });
    });

    it.each([
      [
        'retry function',
        'RetryFunctionTable',
        ['dynamodb:GetItem', 'dynamodb:Query'],
        ['dynamodb:UpdateItem', 'dynamodb:PutItem'],
        ['LEDGER#*', 'BUDGET', 'RATE'],
      ],
      ['seed function', 'SeedFunctionTable', 'dynamodb:Query', ['dynamodb:PutItem', 'dynamodb:DeleteItem'], ['POLICY']],
    ])('gives the %s only the table calls it makes, and writes to its own partitions', (_name, sid, reads, writes, partitions) => {
      // Act
      const template = synth({});

      // Assess
      const table = statements(template).filter((st) => (st as { Sid?: string }).Sid?.startsWith(sid));
      expect(table).toEqual([
        expect.objectContaining({ Sid: `${sid}Read`, Action: reads }),
        expect.objectContaining({
          Sid: `${sid}Write`,
          Action: writes,
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitions } },
        }),
      ]);
      const everyAction = statements(template).flatMap((st) => [st.Action].flat());
      expect(
        everyAction.filter(
          (a) => ['dynamodb:Scan', 'dynamodb:BatchWriteItem', 'dynamodb:DescribeStream'].includes(a) || a.startsWith('dynamodb:GetRecords'),
        ),
      ).toEqual([]);
    });

    it('splits a watch list too long for one event pattern over several rules, each under EventBridge’s limit', () => {
      // Prepare: 80 names make a pattern of about 2,900 characters.
      const watchedPipelines = Array.from({ length: 80 }, (_, i) => `team-service-pipeline-${String(i).padStart(3, '0')}`);

      // Act
      const template = synth({ watchedPipelines });

      // Assess
      const rules = (
        Object.values(template.findResources('AWS::Events::Rule')) as {
          Properties: { EventPattern?: { detail: { state: string[]; pipeline: string[] } } };
        }[]
      ).flatMap((rule) => (rule.Properties.EventPattern ? [{ Properties: { EventPattern: rule.Properties.EventPattern } }] : []));
      const failed = rules.filter((rule) => rule.Properties.EventPattern.detail.state[0] === 'FAILED');
      expect(failed.length).toBeGreaterThan(1);
      for (const rule of rules) expect(JSON.stringify(rule.Properties.EventPattern).length).toBeLessThanOrEqual(2048);
      expect(failed.flatMap((rule) => rule.Properties.EventPattern.detail.pipeline).sort()).toEqual([...watchedPipelines].sort());
    });

    it('offers operators a managed policy with just what the CLI calls, and outputs it', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
        PolicyDocument: {
          Statement: [
            Match.objectLike({ Action: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'] }),
            Match.objectLike({
              Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
              Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['POLICY', 'PAUSE'] } },
            }),
            Match.objectLike({ Action: 'cloudformation:DescribeStacks' }),
          ],
        },
      });
      template.hasOutput('OperatorPolicyArn', { Value: { Ref: Match.stringLikeRegexp('OperatorPolicy') } });
    });
  });

  describe('leases, concurrency and pacing', () => {
    it.each([
      ['the default 30 s timeout', undefined, 30, '120', 180],
      ['a 2-minute timeout', Duration.minutes(2), 120, '240', 720],
    ])('derives the lease and the queue visibility from %s', (_case, timeout, seconds, lease, visibility) => {
      // Act
      const template = synth(timeout ? { timeout } : {});

      // Assess: the lease outlives any run of the function; a failed receive comes back after both.
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        Timeout: seconds,
        Environment: { Variables: Match.objectLike({ LEASE_SECONDS: lease }) },
      });
      template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: visibility, RedrivePolicy: Match.anyValue() });
    });

    it.each([
      ['by default', {}, 10, 5, '10', '7.5'],
      ['as the props say', { reservedConcurrency: 20, codePipelineRequestsPerSecond: 25 }, 20, 10, '25', '7.5'],
    ])('caps concurrency and paces CodePipeline calls %s', (_case, props, reserved, fromQueue, rate, wait) => {
      // Act
      const template = synth(props);

      // Assess
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        ReservedConcurrentExecutions: reserved,
        Environment: { Variables: Match.objectLike({ CODEPIPELINE_REQUESTS_PER_SECOND: rate, MAX_RATE_WAIT_SECONDS: String(wait) }) },
      });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: fromQueue } });
    });

    it.each([
      [
        'sets CLASSIFY_ALL_FAILURES when classifyAllFailures is on',
        { classifyAllFailures: true },
        Match.objectLike({ CLASSIFY_ALL_FAILURES: 'true' }),
      ],
      ['leaves CLASSIFY_ALL_FAILURES out by default', {}, Match.not(Match.objectLike({ CLASSIFY_ALL_FAILURES: Match.anyValue() }))],
    ])('%s', (_case, props, variables) => {
      // Act
      const template = synth(props);

      // Assess
      template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', Environment: { Variables: variables } });
    });

    it('lets the retry function read the providers behind failed actions, one action per resource type, in its account and region', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Sid: 'ReadFailureProviders',
              Effect: 'Allow',
              Action: [
                'codebuild:BatchGetBuilds',
                'codebuild:DescribeTestCases',
                'codedeploy:GetDeployment',
                'cloudformation:DescribeStackEvents',
              ],
              Resource: [
                partitioned(`:codebuild:${ENV.region}:${ENV.account}:project/*`),
                partitioned(`:codebuild:${ENV.region}:${ENV.account}:report-group/*`),
                partitioned(`:codedeploy:${ENV.region}:${ENV.account}:deploymentgroup:*/*`),
                partitioned(`:cloudformation:${ENV.region}:${ENV.account}:stack/*/*`),
              ],
            },
          ]),
        },
      });
    });

    it('refuses a timeout the lease cannot cover, at synth, in one line', () => {
      // Act / Assess
      expect(problems({ timeout: Duration.minutes(10) })).toEqual([
        'props.timeout must be from 10 seconds to 5 minutes (the ledger lease is twice it), got 600 seconds',
      ]);
    });
  });

  describe('IAM', () => {
    it('scopes pipeline reads and retries to the watched pipelines', () => {
      // Act
      const template = synth({ watchedPipelines: ['web-app'] });

      // Assess
      const cp = statements(template).filter((s) => [s.Action].flat().some((a) => a.startsWith('codepipeline:')));
      const arn = (suffix: string) => ({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:codepipeline:eu-west-1:123456789012:${suffix}`]],
      });
      expect(cp).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Action: [
              'codepipeline:GetPipelineState',
              'codepipeline:GetPipeline',
              'codepipeline:GetPipelineExecution',
              'codepipeline:ListActionExecutions',
            ],
            Resource: arn('web-app'),
          }),
          expect.objectContaining({ Action: 'codepipeline:RetryStageExecution', Resource: arn('web-app/*') }),
        ]),
      );
      expect(cp).toHaveLength(2);
    });

    it('uses an account-and-region wildcard only when watching every pipeline', () => {
      // Act
      const template = synth({});

      // Assess
      const retry = statements(template).find((s) => s.Action === 'codepipeline:RetryStageExecution');
      expect(JSON.stringify(retry?.Resource)).toContain(':codepipeline:eu-west-1:123456789012:*');
    });

    it('grants no wildcard actions anywhere', () => {
      // Act
      const template = synth({});

      // Assess
      const actions = statements(template).flatMap((s) => [s.Action].flat());
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
    });
  });

  describe('policy seeding', () => {
    it('passes the validated policies from configuration to the custom resource', () => {
      // Act
      const template = synth({
        defaultPolicy: { maxRetries: 1 },
        pipelines: { 'web-app': { cooldown: Duration.minutes(5), stages: { Deploy: { retryMode: StageRetryMode.ALL_ACTIONS } } } },
      });

      // Assess
      const resource = Object.values(template.findResources('Custom::AutoRetryPolicies'))[0] as { Properties: { Policies: string } };
      expect(JSON.parse(resource.Properties.Policies)).toEqual([
        { scope: { kind: 'default' }, patch: { maxRetries: 1 } },
        { scope: { kind: 'pipeline', pipeline: 'web-app' }, patch: { cooldownSeconds: 300 } },
        { scope: { kind: 'stage', pipeline: 'web-app', stage: 'Deploy' }, patch: { retryMode: 'ALL_ACTIONS' } },
      ]);
    });

    it('reports every bad prop as one error line and still builds a whole construct, from the defaults', () => {
      // Prepare
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new AutoRetryStack(app, 'Test', {
        env: ENV,
        autoRetry: { defaultPolicy: { maxRetries: 99 }, watchedPipelines: ['bad name!'] },
      });

      // Act
      const found = synthErrors(stack);
      const template = Template.fromStack(stack);

      // Assess
      expect(found).toHaveLength(2);
      expect(found.every((line) => !line.includes('\n'))).toBe(true);
      expect(found.join(' ')).toMatch(/props\.defaultPolicy\.maxRetries must be an integer from 0 to 10, got 99/);
      expect(found.join(' ')).toMatch(/props\.watchedPipelines\[0\]/);
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
    });

    it('refuses bad props at synth, naming the prop and the value', () => {
      // Act / Assess
      expect(problems({ pipelines: { 'web-app': { maxRetries: -1 } } })).toEqual([
        'props.pipelines.web-app.maxRetries must be an integer from 0 to 10, got -1',
      ]);
    });
  });

  describe('operations: recoveries, notifications, dashboard and alarms', () => {
    it('routes stage successes after a retry, and only those, to the function', () => {
      // Act
      const template = synth({ watchedPipelines: ['web-app'] });

      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.codepipeline'],
          'detail-type': ['CodePipeline Stage Execution State Change'],
          detail: { state: ['SUCCEEDED'], 'stage-last-retry-attempt-time': [{ exists: true }], pipeline: ['web-app'] },
        },
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RetryFunction'), 'Arn'] } })],
      });
    });

    const thisAccountsAlarms = {
      StringEquals: { 'aws:SourceAccount': '123456789012' },
      ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:eu-west-1:123456789012:alarm:*']] } },
    };

    it('lets this account’s CloudWatch alarms publish to the TLS-only topic, and nobody else by that policy', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('EncryptionKey'), 'Arn'] },
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Condition: thisAccountsAlarms,
            }),
          ]),
        },
      });
    });

    it('lets CloudWatch use the key for this account’s alarms and logs only, and limits grants to AWS services', () => {
      // Act
      const template = synth({});

      // Assess
      template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Condition: thisAccountsAlarms,
            }),
            Match.objectLike({
              Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
              Condition: {
                ArnLike: {
                  'kms:EncryptionContext:aws:logs:arn': {
                    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:123456789012:log-group:*']],
                  },
                },
              },
            }),
            Match.objectLike({
              Effect: 'Deny',
              Action: 'kms:CreateGrant',
              Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
            }),
          ]),
        },
      });
      const keyStatements = (
        Object.values(template.findResources('AWS::KMS::Key'))[0] as {
          Properties: { KeyPolicy: { Statement: { Principal?: { Service?: string }; Condition?: unknown }[] } };
        }
      ).Properties.KeyPolicy.Statement;
      expect(keyStatements.filter((st) => st.Principal?.Service && !st.Condition)).toEqual([]);
    });

    it('gives the function the topic and the pipelines that get their own metric dimension', () => {
      // Act
      const template = synth({ watchedPipelines: ['web-app', 'api'], pipelines: { api: { maxRetries: 1 } } });

      // Assess
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: Match.objectLike({
            NOTIFY_TOPIC_ARN: { Ref: Match.stringLikeRegexp('Notifications') },
            METRIC_PIPELINES: 'web-app,api',
          }),
        },
      });
    });

    it('turns the per-pipeline metric dimension off when configured', () => {
      // Act
      const template = synth({ metrics: { pipelineDimensions: false } });

      // Assess
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        Environment: { Variables: Match.objectLike({ METRIC_PIPELINES: '' }) },
      });
    });

    it('subscribes the configured email addresses and Slack channel', () => {
      // Act
      const template = synth({
        notifications: { emails: ['oncall@example.com'], slack: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' } },
      });

      // Assess
      template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
      template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
        SlackWorkspaceId: 'T0123ABCD',
        SlackChannelId: 'C0123ABCD',
        SnsTopicArns: [{ Ref: Match.stringLikeRegexp('Notifications') }],
      });
    });

    it('alarms on every DLQ, function errors, dropped events, claims stuck and exhausted retries, to the topic', () => {
      // Act
      const template = synth({ alarms: { exhaustedPerHour: 3 } });

      // Assess
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: Record<string, unknown> }[];
      expect(alarms).toHaveLength(7);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/Notifications/) }]);
      }
      const byMetric = (name: string) => alarms.filter((a) => a.Properties.MetricName === name);
      expect(byMetric('ApproximateNumberOfMessagesVisible')).toHaveLength(3);
      expect(byMetric('Errors')).toHaveLength(1);
      expect(byMetric('AsyncEventsDropped')).toHaveLength(1);
      // A claim the reconciler finds past its deadline in two of its runs in a row.
      expect(byMetric('ClaimsStuck')[0]?.Properties).toEqual(
        expect.objectContaining({
          Namespace: 'CodePipelineAutoRetry',
          Threshold: 1,
          Period: 300,
          EvaluationPeriods: 2,
          DatapointsToAlarm: 2,
        }),
      );
      expect(byMetric('RetriesExhausted')[0]?.Properties).toEqual(
        expect.objectContaining({
          Namespace: 'CodePipelineAutoRetry',
          Threshold: 3,
          Period: 3600,
          Dimensions: [{ Name: 'service', Value: 'codepipeline-auto-retry' }],
        }),
      );
    });

    it('builds a dashboard of retries, recoveries, skips, function health and queue depths', () => {
      // Act
      const template = synth({});

      // Assess
      const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as {
        Properties: { DashboardBody: unknown };
      }[];
      expect(dashboards).toHaveLength(1);
      const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
      for (const text of [
        'RetryAttempted',
        'RetryRecovered',
        'RetriesExhausted',
        'RetrySkipped',
        'AsyncEventsDropped',
        'Throttles',
        'Duration',
        'ApproximateNumberOfMessagesVisible',
        'delay queue',
      ]) {
        expect(body).toContain(text);
      }
    });

    it('refuses a malformed Slack channel id at synth', () => {
      // Act / Assess
      expect(problems({ notifications: { slack: { workspaceId: 'T0123ABCD', channelId: '#builds' } } })).toEqual([
        'props.notifications.slack.channelId must be a Slack channel id such as C0123ABCD, got "#builds"',
      ]);
    });
  });

  describe('cdk-nag AwsSolutions and Serverless, and Control Tower proactive controls', () => {
    it.each([
      ['watching every pipeline', {} as PipelineAutoRetryProps, ENV],
      [
        'watching a list of pipelines',
        { watchedPipelines: ['web-app', 'api'], pipelines: { api: { maxRetries: 1 } } } as PipelineAutoRetryProps,
        ENV,
      ],
      ['the account and region are left to deploy time', {} as PipelineAutoRetryProps, undefined],
      ['a list is watched and the environment is unknown', { watchedPipelines: ['web-app'] } as PipelineAutoRetryProps, undefined],
      [
        'email and Slack notifications are configured',
        {
          notifications: { emails: ['oncall@example.com'], slack: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' } },
        } as PipelineAutoRetryProps,
        ENV,
      ],
    ])('reports no unacknowledged finding when %s', (_case, autoRetry, env) => {
      // Prepare
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      new AutoRetryStack(app, 'Nag', { env, autoRetry });

      // Act
      const error = synthWithNag(app);

      // Assess
      expect(error).toBeUndefined();
    });

    it('fails synth on a Control Tower control nobody acknowledged (the check is live)', () => {
      // Prepare: a log group kept a month and not encrypted breaks CT.CLOUDWATCH.PR.2 and PR.3.
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new AutoRetryStack(app, 'GuardLive', { env: ENV });
      new logs.LogGroup(stack, 'ShortLived', { retention: logs.RetentionDays.ONE_MONTH });

      // Act
      const error = synthWithNag(app);

      // Assess
      expect(String(error)).toMatch(/ValidationFailed/);
      const text = JSON.stringify(error, Object.getOwnPropertyNames(error));
      expect(text).toContain('ShortLived');
      expect(text).toContain('CT.CLOUDWATCH.PR.2');
    });

    it('does fail synth when a finding is not acknowledged (the check is live)', () => {
      // Prepare: an extra queue without a DLQ or TLS policy is a finding.
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new AutoRetryStack(app, 'NagLive', { env: ENV });
      new sqs.Queue(stack, 'Unprotected');

      // Act
      const error = synthWithNag(app);

      // Assess
      expect(error).toBeInstanceOf(Error);
      expect(String(error)).toMatch(/ValidationFailed/);
      expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).toContain('Unprotected');
    });
  });
});
