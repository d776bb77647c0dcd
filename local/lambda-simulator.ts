import type { SQSBatchResponse } from 'aws-lambda';
import type { HandlerInput, HandlerOutput } from '../lambda/handler';
import type { ServiceDeps } from '../lambda/service/deps';
import { type LocalAws, LogCapture, type ManualClock } from './local-aws';

type Handler = (input: HandlerInput) => Promise<HandlerOutput>;

export interface SimulationResult {
  /** Invocations made, first deliveries and redeliveries together. */
  readonly invocations: number;
  /** Invocations that threw (Lambda would retry them). */
  readonly faults: number;
  /** Events still failing after every redelivery round (Lambda would send them to the on-failure queue). */
  readonly lost: readonly HandlerInput[];
  /** Delay-queue messages still unprocessed at the end. */
  readonly stuckMessages: number;
}

/**
 * Plays Lambda's side of the contract against the local services: asynchronous EventBridge
 * invocations spread over a pool of warm instances, a failed invocation redelivered later (after
 * the claim lease, as Lambda's async retries come a minute or more later), and the delay queue
 * drained in batches with partial batch failures returned to the queue. Time is the manual clock.
 */
export class LambdaSimulator {
  private readonly instances: Handler[];
  private next = 0;
  public readonly logs = new LogCapture();

  public constructor(
    private readonly aws: LocalAws,
    private readonly clock: ManualClock,
    options: { instances?: number; deps?: Partial<ServiceDeps> } = {},
  ) {
    // The queue and the pipelines keep the simulation's time.
    aws.sqs.now = () => clock.current;
    aws.codepipeline.now = () => clock.current;
    this.instances = Array.from({ length: options.instances ?? 16 }, () =>
      aws.handler({ sink: this.logs.sink, clock: clock.now, ...(options.deps ?? {}) }),
    );
  }

  private instance(): Handler {
    const h = this.instances[this.next % this.instances.length];
    this.next += 1;
    if (!h) throw new Error('no instances');
    return h;
  }

  /** Delivers the events concurrently (at most `concurrency` at once) until all is quiet. */
  public async run(events: readonly HandlerInput[], options: { concurrency?: number; rounds?: number } = {}): Promise<SimulationResult> {
    const concurrency = options.concurrency ?? 32;
    let invocations = 0;
    let faults = 0;
    let pending = [...events];
    for (let round = 0; round < (options.rounds ?? 6); round++) {
      const failed: HandlerInput[] = [];
      await pool(pending, concurrency, async (event) => {
        invocations += 1;
        try {
          await this.instance()(structuredClone(event));
        } catch {
          faults += 1;
          failed.push(event);
        }
      });
      const drained = await this.drainQueue();
      invocations += drained.invocations;
      faults += drained.faults;
      pending = failed;
      if (pending.length === 0 && this.aws.sqs.pending().length === 0) break;
      this.clock.advance(180); // Lambda retries an async event a minute or more later.
    }
    return { invocations, faults, lost: pending, stuckMessages: this.aws.sqs.pending().length };
  }

  /** Moves the clock to each message's visibility and delivers batches of up to 10. */
  private async drainQueue(): Promise<{ invocations: number; faults: number }> {
    let invocations = 0;
    let faults = 0;
    for (let hop = 0; hop < 500 && this.aws.sqs.pending().length > 0; hop++) {
      const nextVisible = Math.min(...this.aws.sqs.pending().map((m) => m.visibleAt));
      if (nextVisible > this.clock.current) this.clock.current = nextVisible;
      const batch = this.aws.sqs.takeVisible();
      if (!batch) continue;
      const chunks: (typeof batch.Records)[] = [];
      for (let i = 0; i < batch.Records.length; i += 10) chunks.push(batch.Records.slice(i, i + 10));
      await pool(chunks, 8, async (records) => {
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
        this.aws.sqs.deadLetter(failedRecords.filter(exhausted));
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
