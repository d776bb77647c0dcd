import type { TableKey } from '../../contract';
import type { LedgerKey } from '../domain/ledger';
import { type DynamoTable, dynamoFault, type Item, type Update } from './dynamo-table';
import type { TableNames } from './table-names';

/** The names every claim write uses. */
export const CLAIM_NAMES = { '#status': 'status', '#token': 'token' } as const;

/** A conditional write of the ledger: done (`own` when the item a failed condition saw showed this write's own effect), or refused. */
export type LedgerWrite = { done: true; item: Item; own: boolean } | { done: false; item: Item | undefined; own: false };

/**
 * The ledger's records in the table: reading one, and the one conditional write every change of
 * the ledger goes through, which recognises its own effect after a lost answer. When DynamoDB took
 * a write but its answer was lost, the SDK resends it, the resend fails its condition, and the
 * item shows our own write: that counts as done, never as a race lost to someone else.
 */
export class LedgerTable {
  public constructor(
    public readonly table: DynamoTable,
    private readonly names: TableNames,
    private readonly retentionSeconds: number,
  ) {}

  /**
   * One conditional write. `ours` recognises this write's own effect in the item a failed
   * condition saw (returned by DynamoDB, or read): then the write counts as done, `own` set.
   */
  public async write(key: LedgerKey, update: Update, what: string, ours?: (item: Item) => boolean): Promise<LedgerWrite> {
    let written: Awaited<ReturnType<DynamoTable['update']>>;
    try {
      written = await this.table.update(this.names.ledger(key), update);
    } catch (error) {
      throw dynamoFault(what, error);
    }
    if (written.done) return { done: true, item: written.item, own: false };
    if (!ours) return { done: false, item: written.item, own: false };
    const item = written.item ?? (await this.read(key));
    if (item && ours(item)) return { done: true, item, own: true };
    return { done: false, item, own: false };
  }

  public async read(key: LedgerKey): Promise<Item | undefined> {
    return this.readKey(this.names.ledger(key));
  }

  public async readKey(key: TableKey): Promise<Item | undefined> {
    try {
      return await this.table.get(key);
    } catch (error) {
      throw dynamoFault('read the ledger', error);
    }
  }

  /** The fields every write of a record keeps current. */
  public recordFields(key: LedgerKey, now: Date): Record<string, unknown> {
    return {
      ':pipeline': key.pipeline,
      ':stage': key.stage,
      ':execution': key.executionId,
      ':now': now.toISOString(),
      ':ttl': Math.floor(now.getTime() / 1000) + this.retentionSeconds,
    };
  }
}
