import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { HandlerInput, HandlerOutput } from '../lambda/handler';
import { codePipelineUpstream, dynamoUpstream, FaultProxy, type ProxiedCall, queryUpstream, sqsUpstream } from './fault-proxy';
import type { LocalAws, ManualClock } from './local-aws';

/** Where and how often sandboxes die. */
export interface KillPlan {
  /** The chance that an invocation is killed, at one of its AWS calls chosen at random. */
  readonly rate: number;
  readonly random: () => number;
  /** No input is killed more often than this (Lambda promises two retries of an async event). @default 2 */
  readonly maxPerInput?: number;
}

/** A sandbox died while handling the invocation: Lambda sees a function error. */
export class SandboxKilledError extends Error {
  public constructor(
    /** A DynamoDB write of the invocation had taken effect before it died: the ledger holds its work. */
    public readonly afterLedgerWrite: boolean,
  ) {
    super('the sandbox was killed');
  }
}

interface Sandbox {
  child: ChildProcess;
  readonly proxy: FaultProxy;
  busy: boolean;
  /** The invocation in flight: its AWS calls so far, and the call (1-based) and side it dies at. */
  current:
    | {
        calls: number;
        killAt: number;
        after: boolean;
        wrote: boolean;
        settle: (r: { ok: boolean; output?: unknown; error?: string }) => void;
      }
    | undefined;
}

/**
 * Lambda sandboxes as child processes, each running the production handler with its AWS calls
 * (DynamoDB, SQS, CodePipeline, SNS) going through a fault proxy of its own. The proxies share
 * the faults a test sets (lost answers on writes, resets); a kill plan kills a sandbox (SIGKILL)
 * right before one of its calls or right after one took effect, and a new sandbox (a cold start)
 * takes its place. Each invocation runs at the simulated clock's time.
 */
export class ProcessLambda {
  private readonly sandboxes: Sandbox[] = [];
  private nextId = 0;
  private readonly killsByInput = new Map<string, number>();
  private readonly waiting: ((s: Sandbox) => void)[] = [];
  public kills = 0;
  public coldStarts = 0;
  /** Applied to every sandbox's proxy: lost answers on our own writes, and the like. */
  public chaos: FaultProxy['chaos'];

  public constructor(
    private readonly aws: LocalAws,
    private readonly clock: ManualClock,
    private readonly options: { readonly sandboxes: number; readonly kills?: KillPlan },
  ) {}

  public async start(): Promise<void> {
    for (let i = 0; i < this.options.sandboxes; i++) {
      const proxy = new FaultProxy([
        dynamoUpstream(this.aws.dynamo.port),
        sqsUpstream(this.aws.sqs.port),
        codePipelineUpstream(this.aws.codepipeline.port),
        queryUpstream('sns', this.aws.sns.port, ['Publish']),
      ]);
      await proxy.start();
      const sandbox: Sandbox = { child: undefined as unknown as ChildProcess, proxy, busy: false, current: undefined };
      proxy.beforeCall = (call) => this.onCall(sandbox, call, false);
      proxy.afterApply = (call) => this.onCall(sandbox, call, true);
      await this.spawn(sandbox);
      this.sandboxes.push(sandbox);
    }
  }

  /** Calls that took effect and whose answers the proxies lost, over every sandbox. */
  public lostAnswers(): number {
    return this.sandboxes.reduce((n, s) => n + s.proxy.lostReplies().length, 0);
  }

  public async stop(): Promise<void> {
    for (const s of this.sandboxes) {
      s.child.kill('SIGKILL');
      await s.proxy.stop();
    }
  }

  /** Invokes a free sandbox (waiting for one); rejects as Lambda reports a function error, or a killed sandbox. */
  public async invoke(input: HandlerInput): Promise<HandlerOutput> {
    const sandbox = await this.free();
    const key = JSON.stringify(input);
    const plan = this.options.kills;
    const killed = this.killsByInput.get(key) ?? 0;
    const kill = plan && killed < (plan.maxPerInput ?? 2) && plan.random() < plan.rate;
    try {
      const result = await new Promise<{ ok: boolean; output?: unknown; error?: string; killed?: boolean; wrote?: boolean }>((resolve) => {
        sandbox.current = {
          calls: 0,
          wrote: false,
          killAt: kill ? 1 + Math.floor((plan?.random() ?? 0) * 6) : Number.POSITIVE_INFINITY,
          after: kill ? (plan?.random() ?? 0) < 0.5 : false,
          settle: resolve,
        };
        sandbox.proxy.chaos = this.chaos;
        sandbox.child.send({ id: ++this.nextId, input, now: this.clock.current });
      });
      if (result.killed) {
        this.killsByInput.set(key, killed + 1);
        throw new SandboxKilledError(result.wrote === true);
      }
      if (!result.ok) throw new Error(result.error);
      return result.output as HandlerOutput;
    } finally {
      sandbox.current = undefined;
      this.release(sandbox);
    }
  }

  /** The proxy saw a call of the sandbox: is this the point it dies at? */
  private onCall(sandbox: Sandbox, call: ProxiedCall, after: boolean): 'drop' | undefined {
    const current = sandbox.current;
    if (!current) return undefined;
    if (!after) current.calls += 1;
    const write = call.service === 'dynamodb' && (call.operation === 'UpdateItem' || call.operation === 'PutItem');
    if (current.calls !== current.killAt || current.after !== after) {
      if (after && write) current.wrote = true;
      return undefined;
    }
    if (after && write) current.wrote = true;
    current.killAt = Number.POSITIVE_INFINITY;
    this.kills += 1;
    const dead = sandbox.child;
    dead.removeAllListeners('message');
    dead.kill('SIGKILL');
    // The next invocation gets a new sandbox: a cold start.
    void this.spawn(sandbox).then(() => current.settle({ ok: false, killed: true, wrote: current.wrote } as never));
    return 'drop';
  }

  private async spawn(sandbox: Sandbox): Promise<void> {
    const endpoint = sandbox.proxy.endpoint;
    const child = fork(join(__dirname, 'lambda-worker.ts'), [], {
      execArgv: ['--require', 'tsx/cjs'],
      env: {
        ...process.env,
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        AWS_ENDPOINT_URL_SQS: endpoint,
        AWS_ENDPOINT_URL_CODEPIPELINE: endpoint,
        AWS_ENDPOINT_URL_SNS: endpoint,
        RETRY_QUEUE_URL: `${endpoint}${new URL(this.aws.sqs.queueUrl).pathname}`,
      },
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    this.coldStarts += 1;
    await new Promise<void>((resolve) => child.once('message', () => resolve()));
    child.on('message', (m: { id: number; ok: boolean; output?: unknown; error?: string }) => sandbox.current?.settle(m));
    sandbox.child = child;
  }

  /** A sandbox that is not busy; the callers waiting for one take them in turn. */
  private free(): Promise<Sandbox> {
    const idle = this.sandboxes.find((s) => !s.busy);
    if (idle) {
      idle.busy = true;
      return Promise.resolve(idle);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(sandbox: Sandbox): void {
    const next = this.waiting.shift();
    if (next) next(sandbox);
    else sandbox.busy = false;
  }
}
