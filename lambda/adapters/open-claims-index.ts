import { OPEN_CLAIMS_INDEX, type TableKey } from '../../contract';
import { type Claim, isOpen, type LedgerKey } from '../domain/ledger';
import type { OpenRecord } from '../ports';
import { dynamoFault, type Item, type Update } from './dynamo-table';
import { claimsOf } from './items';
import type { LedgerTable } from './ledger-table';
import { openRecordOf } from './ledger-views';

/** The records an instance remembers its last write of (a few hundred bytes each). */
const SEEN_RECORDS = 1000;

const recordId = (key: LedgerKey): string => `${key.account ?? ''}/${key.region ?? ''}/${key.pipeline}#${key.stage}#${key.executionId}`;

/**
 * A record's place in the OpenClaims index: a record with an open claim is in it, sorted by the
 * earliest deadline among its open claims (a claim's lease: for a scheduled claim, its due time
 * and a grace); that is how the reconciler finds a claim nobody moved on. Also what this instance
 * saw of the records it wrote last, so that a claim's end can leave the index in the same write.
 */
export class OpenClaimsIndex {
  /** Records this instance wrote last: their revision and open claims, so that a claim's end can leave the index in the same write. */
  private readonly seen = new Map<string, { readonly rev: number; readonly open: readonly number[] }>();

  public constructor(private readonly records: LedgerTable) {}

  /**
   * Records whose earliest open-claim deadline is at or before `cutoff`, oldest first, at most
   * `limit`: one Query of the sparse index (which holds only records with an open claim).
   */
  public async overdue(cutoff: Date, limit: number): Promise<OpenRecord[]> {
    let keys: TableKey[];
    try {
      keys = await this.records.table.queryIndex(OPEN_CLAIMS_INDEX, OPEN_CLAIMS_INDEX.shard, cutoff.toISOString(), limit);
    } catch (error) {
      throw dynamoFault('query the open claims', error);
    }
    const records: OpenRecord[] = [];
    for (const k of keys) {
      const item = await this.records.readKey(k);
      if (item) records.push(openRecordOf(item));
    }
    return records;
  }

  /**
   * The record's revision as this instance last wrote it, when that showed no open claim but
   * `occurrence`'s: a write ending that claim may take the record out of the index, on that revision.
   */
  public aloneAt(key: LedgerKey, occurrence: number): number | undefined {
    const seen = this.seen.get(recordId(key));
    return seen?.open.every((o) => o === occurrence) ? seen.rev : undefined;
  }

  /**
   * Keeps the record's place in the OpenClaims index true to its claims: in it, at the earliest
   * deadline of its open claims, while it has one; out of it once it has none. Each claim write
   * already puts its own deadline there, so this writes only when another claim of the record is
   * open (or none is). Conditional on the record's revision: a record changed meanwhile has been
   * kept true by the write that changed it. A crash before this write leaves the record in the
   * index at another claim's deadline (or, when none is open, its last one): the reconciler
   * reaches it there, later than it might have, and does the same.
   */
  public async keepTrue(key: LedgerKey, item: Item): Promise<void> {
    const open = claimsOf(item).filter(isOpen);
    this.remember(key, item, open);
    const earliest = open.map((c) => c.leaseUntil).sort()[0];
    const indexed = item[OPEN_CLAIMS_INDEX.sortKey];
    if (earliest === indexed && (earliest === undefined || item[OPEN_CLAIMS_INDEX.partitionKey] === OPEN_CLAIMS_INDEX.shard)) return;
    // This write moves the revision on (or not): what this instance saw of the record is no longer sure.
    this.seen.delete(recordId(key));
    const rev = Number(item.rev ?? 0);
    const update: Update =
      earliest === undefined
        ? {
            expression: `REMOVE ${OPEN_CLAIMS_INDEX.partitionKey}, ${OPEN_CLAIMS_INDEX.sortKey}`,
            names: { '#rev': 'rev' },
            values: { ':rev': rev },
            condition: item.rev === undefined ? 'attribute_not_exists(#rev)' : '#rev = :rev',
          }
        : {
            expression: `SET ${this.fields()}`,
            names: { '#rev': 'rev' },
            values: { ...this.values(earliest), ':rev': rev },
            condition: item.rev === undefined ? 'attribute_not_exists(#rev)' : '#rev = :rev',
          };
    await this.records.write(key, update, 'update the open-claims index');
  }

  /** The SET clauses that put a record in the index at `:openUntil` (and move its revision on). */
  public fields(): string {
    return `${OPEN_CLAIMS_INDEX.partitionKey} = :openShard, ${OPEN_CLAIMS_INDEX.sortKey} = :openUntil, #rev = if_not_exists(#rev, :zeroRev) + :oneRev`;
  }

  public values(deadline: string): Record<string, unknown> {
    return { ':openShard': OPEN_CLAIMS_INDEX.shard, ':openUntil': deadline, ':zeroRev': 0, ':oneRev': 1 };
  }

  /** What this instance's last write of a record showed: its revision and its open claims' occurrences. */
  private remember(key: LedgerKey, item: Item, open: readonly Claim[]): void {
    const id = recordId(key);
    this.seen.delete(id);
    this.seen.set(id, { rev: Number(item.rev ?? 0), open: open.map((c) => c.occurrence) });
    if (this.seen.size > SEEN_RECORDS) this.seen.delete(this.seen.keys().next().value as string);
  }
}
