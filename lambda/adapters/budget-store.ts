import { TableKeys } from '../../contract';
import type { RetryBudget } from '../../policy/policy';
import { budgetReopensAt, pruneStamps } from '../domain/budget';
import { TransientFaultError } from '../domain/errors';
import type { PipelineRef } from '../domain/refs';
import type { BudgetPort, BudgetResult } from '../ports';
import { type DynamoTable, dynamoFault } from './dynamo-table';
import type { TableNames } from './table-names';

/** A pipeline's budget item. */
export interface BudgetItem {
  /** Retry id → epoch milliseconds it was taken. Entries older than the window are dropped. */
  readonly stamps: Record<string, number>;
  readonly version: number;
  readonly maxRetries: number;
  readonly windowSeconds: number;
}

/**
 * Per-pipeline retry budget (a circuit breaker over a rolling window), one item per pipeline
 * holding the times of the retries in the window. Each change is one conditional PutItem on a
 * version number, retried on contention, so concurrent instances never overspend it.
 */
export class BudgetStore implements BudgetPort {
  public constructor(
    private readonly table: DynamoTable,
    /** How this deployment names a pipeline's budget item. */
    private readonly names: TableNames,
  ) {}

  public reserve(key: PipelineRef, id: string, budget: RetryBudget, now: Date): Promise<BudgetResult> {
    return this.change<BudgetResult>(this.name(key), (item) => {
      const stamps = pruneStamps(item?.stamps ?? {}, now, budget.windowSeconds);
      const used = Object.keys(stamps).length;
      if (stamps[id] !== undefined) return { done: { ok: true, used } };
      if (used >= budget.maxRetries) return { done: { ok: false, used, reopensAt: budgetReopensAt(stamps, budget.windowSeconds) } };
      stamps[id] = now.getTime();
      return { write: { stamps, version: (item?.version ?? 0) + 1, ...budget }, answer: { ok: true, used: used + 1 } };
    });
  }

  public release(key: PipelineRef, id: string, now: Date): Promise<void> {
    return this.change<void>(this.name(key), (item) => {
      if (!item || item.stamps[id] === undefined) return { done: undefined };
      const stamps = pruneStamps(item.stamps, now, item.windowSeconds);
      delete stamps[id];
      return { write: { ...item, stamps, version: item.version + 1 }, answer: undefined };
    });
  }

  private name(key: PipelineRef): string {
    return this.names.pipeline(key);
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

  private async read(pipeline: string): Promise<BudgetItem | undefined> {
    try {
      return (await this.table.get(TableKeys.budget(pipeline))) as BudgetItem | undefined;
    } catch (error) {
      throw dynamoFault('read the retry budget', error);
    }
  }

  private async write(pipeline: string, item: BudgetItem, expectedVersion: number | undefined): Promise<boolean> {
    try {
      return await this.table.put(
        { ...TableKeys.budget(pipeline), ...item },
        expectedVersion === undefined
          ? { expression: 'attribute_not_exists(pk)' }
          : { expression: 'version = :v', values: { ':v': expectedVersion } },
      );
    } catch (error) {
      throw dynamoFault('write the retry budget', error);
    }
  }
}
