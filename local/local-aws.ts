import { randomUUID } from 'node:crypto';
import { DEFAULT_MEMBER_ROLE_NAME, FunctionEnv, type Location, memberRoleName } from '../contract';
import { DynamoTable } from '../lambda/adapters/dynamo-table';
import { JsonLogger, type LogSink } from '../lambda/adapters/json-logger';
import { LedgerStore } from '../lambda/adapters/ledger-store';
import { TableNames } from '../lambda/adapters/table-names';
import { listBudgets } from '../lambda/admin/budget-queries';
import { LedgerQueries } from '../lambda/admin/ledger-queries';
import { PolicyAdmin } from '../lambda/admin/policy-admin';
import { depsFromEnvironment } from '../lambda/dependencies';
import { createHandler, type HandlerInput, type HandlerOutput } from '../lambda/handler';
import { type SeedResult, seedPolicies } from '../lambda/seed/policy-seeder';
import type { ServiceDeps } from '../lambda/service/service-settings';
import type { PolicySeed } from '../policy/scope';
import { CodePipelineEmulator } from './codepipeline/emulator';
import type { PipelineDefinition } from './codepipeline/world';
import { LocalDynamo } from './dynamo';
import { dynamoUpstream, FaultProxy, sqsUpstream } from './fault-proxy';
import { RecordingMetrics } from './local-kit';
import { ProviderWorld } from './provider-world';
import { SnsEmulator } from './sns-emulator';
import { SqsEmulator } from './sqs-emulator';
import { StsEmulator } from './sts-emulator';

export { LogCapture, ManualClock, RecordingMetrics } from './local-kit';

/**
 * Everything the handler talks to, on loopback: dynalite, the CodePipeline emulator, the SQS and
 * SNS emulators, and the providers behind the pipelines' actions (CodeBuild, CodeDeploy,
 * CloudFormation). `start()` points the SDK at them through the standard AWS_ENDPOINT_URL_* variables,
 * exactly as an operator would, so the code under test is the production code.
 */
export class LocalAws {
  public readonly dynamo = new LocalDynamo();
  public readonly codepipeline = new CodePipelineEmulator();
  public readonly sqs = new SqsEmulator();
  public readonly sns = new SnsEmulator();
  /** CodeBuild, CodeDeploy and CloudFormation behind the actions of `codepipeline`'s pipelines, and the scenario controls that link them. */
  public readonly providers = new ProviderWorld(this.codepipeline);
  public readonly topicArn = 'arn:aws:sns:us-east-1:000000000000:auto-retry-notifications';
  public readonly tableName = `auto-retry-${randomUUID().slice(0, 8)}`;
  /** STS: AssumeRole of member roles. Started by `organization()`. */
  public readonly sts = new StsEmulator();
  /** Member accounts' CodePipeline endpoints, by region (one member per region). */
  private readonly members = new Map<string, CodePipelineEmulator>();
  private stsStarted = false;
  private proxy: FaultProxy | undefined;
  /** Handler invocations that have not settled yet: `stop()` waits for them before it closes anything. */
  private readonly running = new Set<Promise<unknown>>();

  public async start(): Promise<void> {
    const [dynamoEndpoint, pipelineEndpoint, sqsEndpoint, snsEndpoint] = await Promise.all([
      this.dynamo.start(),
      this.codepipeline.start(),
      this.sqs.start(),
      this.sns.start(),
      this.providers.start(),
    ]);
    await this.dynamo.createTable(this.tableName);
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
      AWS_ENDPOINT_URL_CODEPIPELINE: pipelineEndpoint,
      AWS_ENDPOINT_URL_SQS: sqsEndpoint,
      AWS_ENDPOINT_URL_SNS: snsEndpoint,
      ...this.providers.environment(),
      NOTIFY_TOPIC_ARN: this.topicArn,
      // Tests change policies between events; they want every change seen at once.
      POLICY_CACHE_SECONDS: '0',
      // No pacing unless a test sets a rate: the emulator's own limit is what tests throttle with.
      CODEPIPELINE_REQUESTS_PER_SECOND: '1000000',
      TABLE_NAME: this.tableName,
      RETRY_QUEUE_URL: this.sqs.queueUrl,
    });
  }

  /**
   * Waits for the handler invocations still running (a test that failed or timed out may have
   * left some), then closes every service once its requests in flight are answered.
   */
  public async stop(): Promise<void> {
    const unsettled = await this.settle(INVOCATIONS_SETTLE_MS);
    await this.proxy?.stop();
    await Promise.all([
      this.dynamo.stop(),
      this.codepipeline.stop(),
      this.sqs.stop(),
      this.sns.stop(),
      this.sts.stop(),
      this.providers.stop(),
    ]);
    await Promise.all([...this.members.values()].map((m) => m.stop()));
    if (unsettled > 0)
      throw new Error(`${unsettled} handler invocation(s) still running ${INVOCATIONS_SETTLE_MS / 1000} s after the tests ended`);
  }

  /** Resolves when every invocation started so far has settled, or after `timeoutMs`; the number still running. */
  private async settle(timeoutMs: number): Promise<number> {
    if (this.running.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.running]), timedOut]);
    clearTimeout(timer);
    return this.running.size;
  }

  /** Starts the local STS (the CLI asks it who is calling), once; returns its endpoint. */
  public async startSts(): Promise<string> {
    if (!this.stsStarted) await this.sts.start();
    this.stsStarted = true;
    return this.sts.endpoint;
  }

  /**
   * Makes this the central account of an organization deployment: `home` is the central
   * account's own emulator (`codepipeline`), each member gets a CodePipeline endpoint of its own
   * region that serves only that account's credentials, and a member role in the local STS.
   * The function's environment says what an organization stack sets. Returns the members' emulators.
   */
  public async organization(
    members: readonly Location[],
    options: { readonly accounts?: '*' | readonly string[]; readonly home?: Location } = {},
  ): Promise<CodePipelineEmulator[]> {
    const home = options.home ?? { account: '123456789012', region: 'us-east-1' };
    const stsEndpoint = await this.startSts();
    this.sts.trustKey('local', home.account);
    this.codepipeline.tenant = { ...home, accountOf: this.sts.accountOf };
    const started: CodePipelineEmulator[] = [];
    for (const at of members) {
      if (at.region === home.region || this.members.has(at.region)) throw new Error(`one endpoint per region: ${at.region} is taken`);
      const emulator = new CodePipelineEmulator();
      emulator.account = at.account;
      emulator.region = at.region;
      emulator.tenant = { ...at, accountOf: this.sts.accountOf };
      await emulator.start();
      this.members.set(at.region, emulator);
      this.sts.roles.add(this.memberRoleArn(at));
      started.push(emulator);
    }
    const accounts = options.accounts ?? [...new Set(members.map((m) => m.account))];
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_STS: stsEndpoint,
      [FunctionEnv.HomeAccount]: home.account,
      [FunctionEnv.HomeRegion]: home.region,
      [FunctionEnv.MemberAccounts]: accounts === '*' ? '*' : accounts.join(','),
      [FunctionEnv.MemberRegions]: [...new Set(members.map((m) => m.region))].join(','),
    });
    return started;
  }

  /**
   * Puts a fault proxy between the function and its own DynamoDB and SQS, so tests can lose the
   * answers of writes that took effect, cut connections and throttle them. Handlers made from
   * now on use it; call before the first invocation.
   */
  public async ownFaults(): Promise<FaultProxy> {
    if (!this.proxy) {
      this.proxy = new FaultProxy([dynamoUpstream(this.dynamo.port), sqsUpstream(this.sqs.port)]);
      const endpoint = await this.proxy.start();
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        AWS_ENDPOINT_URL_SQS: endpoint,
        RETRY_QUEUE_URL: `${endpoint}${new URL(this.sqs.queueUrl).pathname}`,
      });
    }
    return this.proxy;
  }

  /** Requests the local services are serving right now (simulated time moves on only when there are none). */
  public get busy(): number {
    const members = [...this.members.values()].reduce((n, m) => n + m.busy, 0);
    const own = this.dynamo.busy + this.codepipeline.busy + this.sqs.busy + this.sns.busy + this.sts.busy + this.providers.busy;
    return own + (this.proxy?.busy ?? 0) + members;
  }

  /** The member role the function assumes for `at`. */
  public memberRoleArn(at: Location): string {
    return `arn:aws:iam::${at.account}:role/${memberRoleName(DEFAULT_MEMBER_ROLE_NAME, at.region)}`;
  }

  /** The table, through its own client. */
  public table(): DynamoTable {
    return new DynamoTable(this.tableName, this.dynamo.client());
  }

  /** Policies and pause switches, as an operator changes them. */
  public policies(): PolicyAdmin {
    return new PolicyAdmin(this.table());
  }

  /** Writes policies as a deploy does. */
  public seed(policies: readonly PolicySeed[]): Promise<SeedResult> {
    return seedPolicies(this.table(), policies, new Date());
  }

  /** Ledger records, as operators read them. */
  public ledger(): LedgerQueries {
    return new LedgerQueries(this.table());
  }

  /** The ledger, as the retry function writes it. */
  public ledgerStore(): LedgerStore {
    return new LedgerStore(this.table(), { names: new TableNames(undefined) });
  }

  public budgets(now: Date): ReturnType<typeof listBudgets> {
    return listBudgets(this.table(), now);
  }

  /**
   * A handler built by the production factory from the environment, with a clock, log sink or
   * settings swapped in. Everything else (adapters, SDK clients, HTTP) is the real thing.
   */
  public handler(
    overrides: Partial<ServiceDeps> & { sink?: LogSink; sleep?: (ms: number) => Promise<void> } = {},
  ): (input: HandlerInput) => Promise<HandlerOutput> {
    const { sink, sleep, ...rest } = overrides;
    const handle = createHandler(() => ({
      ...depsFromEnvironment(process.env, overrides.clock, {
        codePipelineEndpoint: (region) => this.members.get(region)?.endpoint,
        // One CodeBuild, CodeDeploy and CloudFormation answer for every member region (they check the caller's account).
        providerEndpoints: () => this.providers.endpoints,
        sleep,
      }),
      // EMF documents would flood the test output; tests that check them pass real metrics in.
      metrics: new RecordingMetrics(),
      // Jitter off unless a test brings its own randomness: timings a test can assert.
      random: () => 0,
      // A test that reads the log lines passes a sink; the others keep the output quiet.
      logger: new JsonLogger(sink ?? discard),
      ...rest,
    }));
    return (input) => {
      const invocation = handle(input);
      this.running.add(invocation);
      const forget = () => this.running.delete(invocation);
      invocation.then(forget, forget);
      return invocation;
    };
  }

  /** A pipeline with a unique name (tests share one table), with Build, Test, Deploy and Approve stages. */
  public pipeline(prefix = 'app'): string {
    const name = `${prefix}-${randomUUID().slice(0, 8)}`;
    this.codepipeline.createPipeline(standardPipeline(name));
    return name;
  }
}

const discard: LogSink = () => undefined;

/** How long `stop()` waits for handler invocations that are still running. */
const INVOCATIONS_SETTLE_MS = 30_000;

export function standardPipeline(name: string): PipelineDefinition {
  return {
    name,
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', category: 'Source', provider: 'CodeStarSourceConnection' }] },
      {
        name: 'Test',
        actions: [
          { name: 'UnitTests', category: 'Test', provider: 'CodeBuild' },
          { name: 'IntegrationTests', category: 'Test', provider: 'CodeBuild' },
        ],
      },
      { name: 'Approve', actions: [{ name: 'Review', category: 'Approval', provider: 'Manual' }] },
      {
        name: 'Deploy',
        actions: [
          { name: 'CreateChangeSet', category: 'Deploy', provider: 'CloudFormation', configuration: { ActionMode: 'CHANGE_SET_REPLACE' } },
          { name: 'ExecuteChangeSet', category: 'Deploy', provider: 'CloudFormation', configuration: { ActionMode: 'CHANGE_SET_EXECUTE' } },
        ],
      },
    ],
  };
}
