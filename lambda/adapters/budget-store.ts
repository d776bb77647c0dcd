import { ConditionalCheckFailedException, type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TransientFaultError } from '../domain/errors';
import type { RetryBudget } from '../domain/policy';
import { queryPartition } from './table-keys';

export type BudgetResult =
  | { readonly ok: true; readonly used: number }
  | { readonly ok: false; readonly used: number; readonly reopensAt: Date };

export interface BudgetState {
  readonly pipeline: string;
  readonly used: number;
  readonly maxRetries: number;
  readonly windowSeconds: number;
  readonly open: boolean;
  readonly reopensAt: string | undefined;
}

export interface BudgetPort {
  /** Takes one retry from the pipeline's budget for `id`; taking it twice for one id is a no-op. */
  reserve(pipeline: string, id: string, budget: RetryBudget, now: Date): Promise<BudgetResult>;
  /** Gives back what `reserve` took for `id`, when no retry was made after all. */
  release(pipeline: string, id: string, now: Date): Promise<void>;
}

interface BudgetItem {
  /** Retry id → epoch milliseconds it was taken. Entries older than the window are dropped. */
  readonly stamps: Record<string, number>;
  readonly version: number;
  readonly maxRetries: number;
  readonly windowSeconds: number;
}

const key = (pipeline: string) => ({ pk: 'BUDGET', sk: pipeline });

/**
 * Per-pipeline retry budget (a circuit breaker over a rolling window), one item per pipeline
 * holding the times of the retries in the window. Each change is one conditional PutItem on a
 * version number, retried on contention, so concurrent instances never overspend it.
 */
export class BudgetStore implements BudgetPort {
  public constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBClient,
  ) {}

  public reserve(pipeline: string, id: string, budget: RetryBudget, now: Date): Promise<BudgetResult> {
    return this.change<BudgetResult>(pipeline, (item) => {
      const stamps = prune(item?.stamps ?? {}, now, budget.windowSeconds);
      const used = Object.keys(stamps).length;
      if (stamps[id] !== undefined) return { done: { ok: true, used } };
      if (used >= budget.maxRetries) return { done: { ok: false, used, reopensAt: reopensAt(stamps, budget.windowSeconds) } };
      stamps[id] = now.getTime();
      return { write: { stamps, version: (item?.version ?? 0) + 1, ...budget }, answer: { ok: true, used: used + 1 } };
    });
  }

  public release(pipeline: string, id: string, now: Date): Promise<void> {
    return this.change<void>(pipeline, (item) => {
      if (!item || item.stamps[id] === undefined) return { done: undefined };
      const stamps = prune(item.stamps, now, item.windowSeconds);
      delete stamps[id];
      return { write: { ...item, stamps, version: item.version + 1 }, answer: undefined };
    });
  }

  /**
   * Read, decide, write on the version read; again when another instance wrote in between.
   * `step` either answers without writing (`done`) or names the item to write and the answer once written.
   */
  private async change<T>(
    pipeline: string,
    step: (item: BudgetItem | undefined) => { done: T } | { write: BudgetItem; answer: T },
  ): Promise<T> {
    for (let round = 0; round < 8; round++) {
      const item = await this.read(pipeline);
      const next = step(item);
      if ('done' in next) return next.done;
      if (await this.write(pipeline, next.write, item?.version)) return next.answer;
    }
    throw new TransientFaultError(`could not update the retry budget of ${pipeline}: too much contention`);
  }

  /** Every pipeline's budget as of `now`, for `autoretry status`. */
  public async list(now: Date): Promise<BudgetState[]> {
    const items = await queryPartition(this.client, this.tableName, 'BUDGET');
    return items.map((raw) => {
      const item = raw as unknown as BudgetItem & { sk: string };
      const stamps = prune(item.stamps ?? {}, now, item.windowSeconds);
      const used = Object.keys(stamps).length;
      const open = used >= item.maxRetries;
      return {
        pipeline: item.sk,
        used,
        maxRetries: item.maxRetries,
        windowSeconds: item.windowSeconds,
        open,
        reopensAt: open ? reopensAt(stamps, item.windowSeconds).toISOString() : undefined,
      };
    });
  }

  private async read(pipeline: string): Promise<BudgetItem | undefined> {
    try {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: marshall(key(pipeline)), ConsistentRead: true }),
      );
      return out.Item ? (unmarshall(out.Item) as BudgetItem) : undefined;
    } catch (error) {
      throw new TransientFaultError('could not read the retry budget from DynamoDB', { cause: error });
    }
  }

  private async write(pipeline: string, item: BudgetItem, expectedVersion: number | undefined): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall({ ...key(pipeline), ...item }),
          ConditionExpression: expectedVersion === undefined ? 'attribute_not_exists(pk)' : 'version = :v',
          ...(expectedVersion === undefined ? {} : { ExpressionAttributeValues: marshall({ ':v': expectedVersion }) }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw new TransientFaultError('could not write the retry budget to DynamoDB', { cause: error });
    }
  }
}

/** When the oldest retry in the window leaves it, and the circuit closes. */
function reopensAt(stamps: Record<string, number>, windowSeconds: number): Date {
  return new Date(Math.min(...Object.values(stamps)) + windowSeconds * 1000);
}

function prune(stamps: Record<string, number>, now: Date, windowSeconds: number): Record<string, number> {
  const since = now.getTime() - windowSeconds * 1000;
  return Object.fromEntries(Object.entries(stamps).filter(([, at]) => at > since));
}
