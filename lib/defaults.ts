import * as path from 'node:path';
import { AssetHashType, DockerImage, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { AssetOptions } from 'aws-cdk-lib/aws-s3-assets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { OPEN_CLAIMS_INDEX, TABLE_SCHEMA } from '../contract';
import { bundleFunction } from './bundling';

/**
 * The construct's defaults, as pure functions returning props (in the manner of AWS Solutions
 * Constructs): what every resource gets unless the construct's props say otherwise.
 */

export const DEFAULT_TIMEOUT = Duration.seconds(30);
export const DEFAULT_RESERVED_CONCURRENCY = 10;
export const DEFAULT_CODEPIPELINE_REQUESTS_PER_SECOND = 10;
/** The shortest ledger lease: a holder owns its claim at least this long. */
export const MIN_LEASE_SECONDS = 120;

/**
 * How long a claim's holder owns it: twice the function timeout (an instance still running can
 * never be taken over), at least MIN_LEASE_SECONDS.
 */
export function leaseSeconds(functionTimeout: Duration): number {
  return Math.max(MIN_LEASE_SECONDS, Math.ceil(functionTimeout.toSeconds() * 2));
}
/** At least a year: Control Tower's CT.CLOUDWATCH.PR.2 refuses shorter retention. */
export const DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_YEAR;

/** EventBridge keeps retrying delivery to the function this long, then dead-letters the event. */
export const EVENT_DELIVERY = { retryAttempts: 185, maxEventAge: Duration.hours(24) } as const;
/** Lambda's own retries of an asynchronous invocation that failed, before the on-failure destination. */
export const ASYNC_INVOCATION = { retryAttempts: 2, maxEventAge: Duration.hours(6) } as const;
/** Receives of a delay-queue message before it moves to the delay DLQ. */
export const DELAY_QUEUE_MAX_RECEIVES = 5;
/** How the function reads the delay queue: half the function's concurrency (at least 2, SQS's minimum). */
export function delayQueueSource(reservedConcurrency: number) {
  return { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: Math.max(2, Math.floor(reservedConcurrency / 2)) } as const;
}

/** The policy and ledger table: on-demand, encrypted, point-in-time recoverable, expiring ledger records. */
export function tableProps(removalPolicy: RemovalPolicy = RemovalPolicy.RETAIN): dynamodb.TableProps {
  return {
    partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: TABLE_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
    removalPolicy,
  };
}

/**
 * The sparse index of ledger records with an open claim, sorted by their earliest deadline: the
 * reconciler's one Query (keys only; it reads each record it finds).
 */
export function openClaimsIndexProps(): dynamodb.GlobalSecondaryIndexProps {
  return {
    indexName: OPEN_CLAIMS_INDEX.name,
    partitionKey: { name: OPEN_CLAIMS_INDEX.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: OPEN_CLAIMS_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.KEYS_ONLY,
  };
}

/** How often the reconciler looks for claims past their deadline. */
export const DEFAULT_RECONCILE_PERIOD = Duration.minutes(5);

/** Every queue: encrypted, TLS only, messages kept 14 days. */
export function queueProps(overrides: Partial<sqs.QueueProps> = {}): sqs.QueueProps {
  return {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    ...overrides,
  };
}

/**
 * The delay queue. A failed receive becomes visible again after six times the function timeout
 * (as Lambda recommends for SQS sources), and never before a crashed holder's lease has run out,
 * so the message that comes back can take the claim over.
 */
export function delayQueueProps(functionTimeout: Duration, deadLetterQueue: sqs.IQueue): sqs.QueueProps {
  const timeout = functionTimeout.toSeconds();
  return queueProps({
    retentionPeriod: Duration.days(4),
    visibilityTimeout: Duration.seconds(Math.max(timeout * 6, leaseSeconds(functionTimeout) + timeout)),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: DELAY_QUEUE_MAX_RECEIVES },
  });
}

/** Both functions: Node.js 22 on Graviton, traced, logging to their own group. */
export function functionProps(logGroup: logs.ILogGroup, role: iam.IRole) {
  return {
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 256,
    tracing: lambda.Tracing.ACTIVE,
    logGroup,
    role,
  };
}

/**
 * Bundling from source (this repository): the package build's own bundler, run at synth with the
 * local esbuild, never Docker (the image is never pulled: local bundling always succeeds). The
 * asset is named by what the bundler wrote.
 */
export function sourceBundling(entry: string): AssetOptions {
  return {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      // Part of the asset's cache key (the local bundler is not): each function its own bundle.
      environment: { BUNDLE_ENTRY: path.basename(path.dirname(entry)) + path.sep + path.basename(entry) },
      local: {
        tryBundle(outputDir: string): boolean {
          bundleFunction(entry, outputDir);
          return true;
        },
      },
    },
  };
}

/**
 * The provider reads that tell why a failed action failed, each on its own resource type in the
 * stack's account and region: a build of any project (the build id names it), the test cases of
 * any report group, any deployment group's deployments, any stack's events. The project,
 * application and stack are only known from the pipelines' structure at run time.
 */
export const PROVIDER_READS = [
  { action: 'codebuild:BatchGetBuilds', service: 'codebuild', resource: 'project/*', why: 'the build behind a failed CodeBuild action' },
  {
    action: 'codebuild:DescribeTestCases',
    service: 'codebuild',
    resource: 'report-group/*',
    why: 'the failed test cases of its reports',
  },
  {
    action: 'codedeploy:GetDeployment',
    service: 'codedeploy',
    resource: 'deploymentgroup:*/*',
    why: 'the deployment behind a failed CodeDeploy action',
  },
  {
    action: 'cloudformation:DescribeStackEvents',
    service: 'cloudformation',
    resource: 'stack/*/*',
    why: 'the events of the stack behind a failed CloudFormation action',
  },
] as const;
