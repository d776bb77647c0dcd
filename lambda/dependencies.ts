import { randomUUID } from 'node:crypto';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_MEMBER_ROLE_NAME, FunctionEnv } from '../contract';
import { ConfigurationError } from '../policy/errors';
import { boundedMatch } from './adapters/bounded-match';
import { BudgetStore } from './adapters/budget-store';
import { CachedPolicyReader } from './adapters/cached-policy-reader';
import { clientConfig } from './adapters/clients';
import { CodePipelineAdapter } from './adapters/code-pipeline-adapter';
import { DelayQueue } from './adapters/delay-queue';
import { DynamoTable } from './adapters/dynamo-table';
import { LedgerStore } from './adapters/ledger-store';
import { MemberRoles } from './adapters/member-roles';
import { NO_NOTIFIER, SnsNotifier } from './adapters/notifier';
import { PipelineRouter } from './adapters/pipeline-router';
import { DynamoPolicyReader } from './adapters/policy-reader';
import { PowertoolsLogAdapter, PowertoolsMetricsAdapter, pipelineDimensionsFrom } from './adapters/powertools';
import type { ProviderEndpoints } from './adapters/provider-reader';
import { ProviderRouter } from './adapters/provider-router';
import { type RateGate, SharedRate, UNPACED } from './adapters/shared-rate';
import { TableNames } from './adapters/table-names';
import type { Membership } from './domain/membership';
import type { ProviderPort } from './ports';
import { DEFAULT_SETTINGS, type ServiceDeps } from './service/service-settings';

/** True in the function's bundle (esbuild's `define`), where an adapter loaded on first use is a chunk of its own. */
declare const AUTORETRY_BUNDLE: boolean | undefined;

/**
 * The adapters whose SDK clients are loaded on first use. In the bundle, import() makes each a
 * chunk that a cold start does not load; elsewhere (tests, the CLI, the compiled package, all
 * CommonJS) it is a plain require. The bundle's branch is a constant, so the other one is dropped.
 */
const loadStsAssumeRole = (): Promise<typeof import('./adapters/sts-assume-role')> =>
  typeof AUTORETRY_BUNDLE !== 'undefined' && AUTORETRY_BUNDLE
    ? import('./adapters/sts-assume-role')
    : Promise.resolve(require('./adapters/sts-assume-role') as typeof import('./adapters/sts-assume-role'));
const loadSnsPublisher = (): Promise<typeof import('./adapters/sns-publisher')> =>
  typeof AUTORETRY_BUNDLE !== 'undefined' && AUTORETRY_BUNDLE
    ? import('./adapters/sns-publisher')
    : Promise.resolve(require('./adapters/sns-publisher') as typeof import('./adapters/sns-publisher'));
const loadProviderReader = (): Promise<typeof import('./adapters/provider-reader')> =>
  typeof AUTORETRY_BUNDLE !== 'undefined' && AUTORETRY_BUNDLE
    ? import('./adapters/provider-reader')
    : Promise.resolve(require('./adapters/provider-reader') as typeof import('./adapters/provider-reader'));

/** A number from the environment, or `fallback` when it is unset or not `valid`. */
function envNumber(value: string | undefined, fallback: number, valid: (n: number) => boolean): number {
  const n = Number(value ?? fallback);
  return Number.isFinite(n) && valid(n) ? n : fallback;
}

/** What the environment cannot say: where a region's CodePipeline answers, and how to wait, for local emulators and simulated time. */
export interface DepsOptions {
  /** The CodePipeline endpoint of a member region. @default the SDK's (AWS_ENDPOINT_URL_CODEPIPELINE, else the regional endpoint) */
  readonly codePipelineEndpoint?: (region: string) => string | undefined;
  /** Waits for a turn at the shared request rate. @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The CodeBuild, CodeDeploy and CloudFormation endpoints of a member region. @default the SDK's (AWS_ENDPOINT_URL_<SERVICE>, else the regional ones) */
  readonly providerEndpoints?: (region: string) => ProviderEndpoints | undefined;
}

/** What the function is built with: the service's dependencies, the providers behind failed actions always among them. */
export type FunctionDeps = ServiceDeps & { readonly providers: ProviderPort };

/** A configured rate this high is no limit at all: calls are not paced (and no reservation is written). */
const UNLIMITED_RATE = 100_000;

/** Reads the organization settings; none in a single-account deployment. */
export function membershipFrom(env: NodeJS.ProcessEnv): Membership | undefined {
  const account = env[FunctionEnv.HomeAccount];
  const region = env[FunctionEnv.HomeRegion];
  if (!account || !region) return undefined;
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const accounts = env[FunctionEnv.MemberAccounts]?.trim() === '*' ? '*' : list(env[FunctionEnv.MemberAccounts]);
  const regions = list(env[FunctionEnv.MemberRegions]);
  return { home: { account, region }, accounts, regions: regions.length > 0 ? regions : undefined };
}

/** Builds the production dependencies from the environment; SDK clients honour AWS_ENDPOINT_URL_*. */
export function depsFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  clock: () => Date = () => new Date(),
  options: DepsOptions = {},
): FunctionDeps {
  const tableName = env[FunctionEnv.TableName];
  const queueUrl = env[FunctionEnv.RetryQueueUrl];
  const missing = [!tableName && FunctionEnv.TableName, !queueUrl && FunctionEnv.RetryQueueUrl].filter(Boolean);
  if (!tableName || !queueUrl) throw new ConfigurationError([`environment variable ${missing.join(' and ')} is not set`]);
  const retentionDays = envNumber(env[FunctionEnv.LedgerRetentionDays], 30, (n) => n > 0);
  // POLICY_CACHE_SECONDS: 0 turns the cache off.
  const policyCacheSeconds = envNumber(env[FunctionEnv.PolicyCacheSeconds], 10, (n) => n >= 0);
  const leaseSeconds = envNumber(env[FunctionEnv.LeaseSeconds], DEFAULT_SETTINGS.leaseSeconds, (n) => n >= 30);
  const table = new DynamoTable(tableName, new DynamoDBClient(clientConfig()));
  // The whole deployment's CodePipeline rate in each account and region, shared by its instances.
  const rate = envNumber(env[FunctionEnv.CodePipelineRequestsPerSecond], 10, (n) => n >= 1);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const maxInlineWaitMs = envNumber(env[FunctionEnv.MaxRateWaitSeconds], 7.5, (n) => n >= 1) * 1000;
  const newRate = (scope: string): RateGate =>
    rate >= UNLIMITED_RATE ? UNPACED : new SharedRate(table, scope, rate, { now: () => clock().getTime(), sleep, maxInlineWaitMs });
  const membership = membershipFrom(env);
  // How this deployment's table names pipelines, the same for every adapter.
  const names = new TableNames(membership?.home);
  const topicArn = env[FunctionEnv.NotifyTopicArn];
  // Made on the first member's call, so a single-account deployment never loads the STS client; shared by every member client.
  let roles: MemberRoles | undefined;
  const memberRoles = (): MemberRoles =>
    (roles ??= new MemberRoles(
      async () => (await loadStsAssumeRole()).stsAssumeRole(clientConfig({ maxAttempts: 2 })),
      env[FunctionEnv.MemberRoleName] || DEFAULT_MEMBER_ROLE_NAME,
      () => clock().getTime(),
    ));
  return {
    pipelines: pipelineRouter(memberRoles, options, names, newRate),
    providers: providerRouter(memberRoles, options, names),
    policies: new CachedPolicyReader(new DynamoPolicyReader(table), policyCacheSeconds),
    ledger: new LedgerStore(table, { names, retentionSeconds: retentionDays * 86_400 }),
    delays: new DelayQueue(queueUrl, new SQSClient(clientConfig())),
    logger: new PowertoolsLogAdapter(),
    metrics: new PowertoolsMetricsAdapter({
      pipelineDimensions: pipelineDimensionsFrom(env[FunctionEnv.MetricPipelines]),
      accountDimension: membership !== undefined,
    }),
    // The SNS client is loaded with the first notice: most invocations send none.
    notifier: topicArn ? new SnsNotifier(topicArn, async () => (await loadSnsPublisher()).snsPublish(clientConfig())) : NO_NOTIFIER,
    clock,
    newToken: randomUUID,
    random: Math.random,
    budgets: new BudgetStore(table, names),
    settings: { ...DEFAULT_SETTINGS, leaseSeconds, membership, classifyAllFailures: env[FunctionEnv.ClassifyAllFailures] === 'true' },
    match: boundedMatch,
  };
}

/**
 * The function's own CodePipeline clients for its account and region, and, in an organization
 * deployment, clients holding each member's role, made when its first event comes. Reads may be
 * resent; RetryStageExecution never is (its own client, one attempt).
 */
function pipelineRouter(
  memberRoles: () => MemberRoles,
  options: DepsOptions,
  names: TableNames,
  newRate: (scope: string) => RateGate,
): PipelineRouter {
  const own = new CodePipelineAdapter(
    new CodePipelineClient(clientConfig({ maxAttempts: 2 })),
    new CodePipelineClient(clientConfig({ maxAttempts: 1 })),
    newRate(names.homeRateScope),
  );
  return new PipelineRouter(own, names, (at) => {
    const roles = memberRoles();
    const endpoint = options.codePipelineEndpoint?.(at.region);
    const member = (maxAttempts: number) =>
      new CodePipelineClient({
        ...clientConfig({ maxAttempts }),
        region: at.region,
        credentials: roles.provider(at),
        ...(endpoint ? { endpoint } : {}),
      });
    return new CodePipelineAdapter(member(2), member(1), newRate(names.rateScope(at)));
  });
}

/**
 * How long a provider read may hold the failure's handling: two attempts, each bounded well
 * inside the function's timeout, as a read that fails only makes the action `unknown`.
 */
const PROVIDER_CLIENT = { maxAttempts: 2, connectionTimeout: 2_000, requestTimeout: 4_000 } as const;

/**
 * The readers of the providers behind failed actions, one per account and region: the function's
 * own credentials at home, the member's role elsewhere. The module holding their SDK clients is
 * loaded on the first read (a chunk of its own in the bundle). Reads may be resent (two attempts).
 */
function providerRouter(memberRoles: () => MemberRoles, options: DepsOptions, names: TableNames): ProviderRouter {
  return new ProviderRouter(names, async (at) => {
    const { providerReader } = await loadProviderReader();
    if (names.isHome(at)) return providerReader(clientConfig(PROVIDER_CLIENT));
    const config = { ...clientConfig(PROVIDER_CLIENT), region: at.region, credentials: memberRoles().provider(at) };
    return providerReader(config, options.providerEndpoints?.(at.region));
  });
}
