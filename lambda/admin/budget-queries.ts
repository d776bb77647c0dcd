import { Partition } from '../../contract';
import type { BudgetItem } from '../../lambda/adapters/budget-store';
import type { DynamoTable } from '../../lambda/adapters/dynamo-table';
import { budgetReopensAt, pruneStamps } from '../../lambda/domain/budget';

/** One pipeline's retry budget as `autoretry status` shows it. */
export interface BudgetState {
  readonly pipeline: string;
  readonly used: number;
  readonly maxRetries: number;
  readonly windowSeconds: number;
  readonly open: boolean;
  readonly reopensAt: string | undefined;
}

/** Every pipeline's budget as of `now`. */
export async function listBudgets(table: DynamoTable, now: Date): Promise<BudgetState[]> {
  const items = await table.query(Partition.Budget);
  return items.map((raw) => {
    const item = raw as unknown as BudgetItem & { sk: string };
    const stamps = pruneStamps(item.stamps ?? {}, now, item.windowSeconds);
    const used = Object.keys(stamps).length;
    const open = used >= item.maxRetries;
    return {
      pipeline: item.sk,
      used,
      maxRetries: item.maxRetries,
      windowSeconds: item.windowSeconds,
      open,
      reopensAt: open ? budgetReopensAt(stamps, item.windowSeconds).toISOString() : undefined,
    };
  });
}
