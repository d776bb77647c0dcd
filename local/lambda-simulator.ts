import type { SQSBatchResponse } from 'aws-lambda';
import type { HandlerInput, HandlerOutput } from '../lambda/handler';
import type { ServiceDeps } from '../lambda/service/service-settings';
import { type LocalAws, LogCapture, type ManualClock } from './local-aws';
import { VirtualTime } from './virtual-time';

type Handler = (input: HandlerInput) => Promise<HandlerOutput>;

export interface SimulationResult {
  /** Invocations made, first deliveries and redeliveries together. */
  readonly invocations: number;
  /** Invocations that threw (Lambda would retry them), or batches that reported failed items. */
  readonly faults: number;
  /** Events that failed all of Lambda's attempts: they would sit in the on-failure queue. */
  readonly lost: readonly HandlerInput[];
  /** Events Lambda did not retry although the invocation failed (`noRetry`): only the ledger's own ways forward can move them on. */
  readonly notRetried: readonly HandlerInput[];
  /** Delay-queue messages still unprocessed at the end. */
  readonly stuckMessages: number;
  /** Delay-queue messages moved to its dead-letter queue after five receives. */
  readonly deadLettered: number;
}

export interface RunOptions {
  /** Events in flight at once. @default 32 */
  readonly concurrency?: number;
  /** Attempts Lambda makes for an asynchronous event before giving up on it. @default 3 (the first and two retries) */
  readonly maxAttempts?: number;
  /** Deliver the first attempts spread evenly over this many seconds of simulated time. @default 0 */
  readonly spreadSeconds?: number;
  /** Delay-queue batches in flight at once: the event source's maximum concurrency. @default 8 */
  readonly queueConcurrency?: number;
  /** Called before each round of Lambda's retries, with the round's number (2 for the first retry): e.g. to end an outage. */
  readonly beforeRetryRound?: (attempt: number) => Promise<void>;
  /**
   * Lambda promises no redelivery (a sandbox recycled, a function that died after it handed the
   * event on): an event whose failed invocation this says true for is not retried.
   */
  readonly noRetry?: (error: unknown) => boolean;
}

/** Lambda waits about a minute before an async event's first retry and two before its second. */
const RETRY_DELAYS_SECONDS = [60, 120];

/**
 * Plays Lambda's side of the contract against the local services: asynchronous EventBridge
 * invocations spread over a pool of warm instances; a failed invocation retried twice (a minute,
 * then two minutes later) and then given up on; and the delay queue drained in batches, partial
 * batch failures returned to the queue and moved to its DLQ after five receives. Time is the
 * manual clock, which the emulators follow too.
 */
export class LambdaSimulator {
  private readonly instances: Handler[];
  private next = 0;
  private readonly busy = new Set<number>();
  private readonly sleep: (ms: number) => Promise<void>;
  public readonly logs = new LogCapture();
  private deadLettered = 0;

  public constructor(
    private readonly aws: LocalAws,
    private readonly clock: ManualClock,
    options: {
      instances?: number;
      deps?: Partial<ServiceDeps>;
      /** Sandboxes of another kind (child processes: ProcessLambda) instead of in-process handlers. */
      invoke?: Handler;
    } = {},
  ) {
    aws.sqs.now = () => clock.current;
    aws.codepipeline.now = () => clock.current;
    const invoke = options.invoke;
    // Waits inside an invocation (a turn at the shared request rate) take simulated time.
    const sleep = new VirtualTime(clock, () => aws.busy).sleep;
    this.sleep = sleep;
    this.instances = invoke
      ? [invoke]
      : Array.from({ length: options.instances ?? 16 }, () =>
          aws.handler({ sink: this.logs.sink, clock: clock.now, sleep, ...(options.deps ?? {}) }),
        );
  }

  /** An idle sandbox, as Lambda routes an invocation (round-robin among them); a busy one only when all are. */
  private instance(): Handler {
    const count = this.instances.length;
    for (let i = 0; i < count; i++) {
      const index = (this.next + i) % count;
      if (!this.busy.has(index)) {
        this.next = index + 1;
        return this.occupy(index);
      }
    }
    this.next += 1;
    return this.occupy(this.next % count);
  }

  /** The handler at `index`, marked busy while its invocation runs. */
  private occupy(index: number): Handler {
    const h = this.instances[index];
    if (!h) throw new Error('no instances');
    return async (input) => {
      this.busy.add(index);
      try {
        return await h(input);
      } finally {
        this.busy.delete(index);
      }
    };
  }

  /** Delivers the events (at most `concurrency` at once), with Lambda's retries, until all is quiet. */
  public async run(events: readonly HandlerInput[], options: RunOptions = {}): Promise<SimulationResult> {
    const concurrency = options.concurrency ?? 32;
    const maxAttempts = options.maxAttempts ?? 3;
    let invocations = 0;
    let faults = 0;
    let pending = [...events];
    const lost: HandlerInput[] = [];
    const notRetried: HandlerInput[] = [];
    for (let attempt = 1; pending.length > 0 || this.aws.sqs.pending().length > 0; attempt++) {
      const failed: HandlerInput[] = [];
      const deliver = async (event: HandlerInput) => {
        invocations += 1;
        try {
          await this.instance()(structuredClone(event));
        } catch (error) {
          faults += 1;
          if (options.noRetry?.(error)) notRetried.push(event);
          else failed.push(event);
        }
      };
      const spread = attempt === 1 ? (options.spreadSeconds ?? 0) : 0;
      if (spread > 0) {
        // Failures that happen within `spread` seconds, evenly: each is delivered at its time, or
        // when an instance is free (Lambda queues what its reserved concurrency cannot take yet).
        const start = this.clock.current;
        const arrivals = new Map(pending.map((event, i) => [event, start + (i * spread * 1000) / pending.length]));
        await pool(pending, concurrency, async (event) => {
          const at = arrivals.get(event) ?? start;
          if (at > this.clock.current) await this.sleep(at - this.clock.current);
          await deliver(event);
        });
      } else {
        await pool(pending, concurrency, deliver);
      }
      const drained = await this.drainQueue(options.queueConcurrency ?? 8);
      invocations += drained.invocations;
      faults += drained.faults;
      if (attempt >= maxAttempts) {
        lost.push(...failed);
        pending = [];
      } else {
        pending = failed;
      }
      if (pending.length === 0 && this.aws.sqs.pending().length === 0) break;
      await options.beforeRetryRound?.(attempt + 1);
      this.clock.advance(RETRY_DELAYS_SECONDS[Math.min(attempt - 1, RETRY_DELAYS_SECONDS.length - 1)] ?? 120);
    }
    return { invocations, faults, lost, notRetried, stuckMessages: this.aws.sqs.pending().length, deadLettered: this.deadLettered };
  }

  /** Moves the clock to each message's visibility and delivers batches of up to 10. */
  private async drainQueue(concurrency: number): Promise<{ invocations: number; faults: number }> {
    let invocations = 0;
    let faults = 0;
    for (let hop = 0; hop < 20_000 && this.aws.sqs.pending().length > 0; hop++) {
      const nextVisible = Math.min(...this.aws.sqs.pending().map((m) => m.visibleAt));
      if (nextVisible > this.clock.current) this.clock.current = nextVisible;
      const batch = this.aws.sqs.takeVisible();
      if (!batch) continue;
      const chunks: (typeof batch.Records)[] = [];
      for (let i = 0; i < batch.Records.length; i += 10) chunks.push(batch.Records.slice(i, i + 10));
      await pool(chunks, concurrency, async (records) => {
        invocations += 1;
        let response: SQSBatchResponse | undefined;
        try {
          response = (await this.instance()({ Records: records })) as SQSBatchResponse;
        } catch {
          faults += 1;
          this.aws.sqs.returnToQueue(records, 180);
          return;
        }
        const failedIds = new Set(response?.batchItemFailures.map((f) => f.itemIdentifier));
        if (failedIds.size > 0) faults += 1;
        // Visibility timeout: a failed message comes back later, or goes to the DLQ after 5 receives.
        const failedRecords = records.filter((r) => failedIds.has(r.messageId));
        const exhausted = (r: (typeof records)[number]) => Number(r.attributes.ApproximateReceiveCount) >= 5;
        this.aws.sqs.returnToQueue(
          failedRecords.filter((r) => !exhausted(r)),
          180,
        );
        const dead = failedRecords.filter(exhausted);
        this.deadLettered += dead.length;
        this.aws.sqs.deadLetter(dead);
      });
    }
    return { invocations, faults };
  }
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let index = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (index < items.length) {
      const item = items[index++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}
