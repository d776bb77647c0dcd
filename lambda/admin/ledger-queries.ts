import { formatScopedPipeline, LEDGER_PREFIX, parseScopedPipeline, TableKeys } from '../../contract';
import type { DynamoTable, Item } from '../../lambda/adapters/dynamo-table';
import { claimOf, testsOf } from '../../lambda/adapters/items';
import type { Claim, FailureRecord, FlakyTest, LedgerKey } from '../../lambda/domain/ledger';

/** One stage execution's ledger record, as operators read it. */
export interface LedgerRecord extends LedgerKey {
  readonly retries: number;
  readonly firstFailureAt: string | undefined;
  readonly updatedAt: string | undefined;
  readonly claims: readonly Claim[];
  /** Why each occurrence was not retried; with its failure class, evidence and failed tests when it was classified. */
  readonly skips: readonly ({ occurrence: number; reason: string; detail: string; at: string } & FailureRecord)[];
  /** When the stage succeeded after our retries, and after how many. */
  readonly recoveredAt: string | undefined;
  readonly recoveredAfter: number | undefined;
  /** The tests that failed and then passed on our retry, recorded at the recovery. */
  readonly flaky: readonly FlakyTest[];
}

/** The ledger as the CLI reads it: records for history, status and the report. Never written here. */
export class LedgerQueries {
  public constructor(private readonly table: DynamoTable) {}

  public async getRecord(key: LedgerKey): Promise<LedgerRecord | undefined> {
    const item = await this.table.get(TableKeys.ledger(formatScopedPipeline(key), key.stage, key.executionId));
    return item ? recordOf(item) : undefined;
  }

  /** Every stage-execution record of a pipeline (`<account>/<region>/<name>` for a member's), newest first. */
  public async listRecords(pipeline: string): Promise<LedgerRecord[]> {
    const records = (await this.table.query(`${LEDGER_PREFIX}${pipeline}`)).map(recordOf);
    return records.sort((a, b) => String(b.updatedAt).localeCompare(String(a.updatedAt)));
  }

  /**
   * Every stage-execution record changed since `since`, across pipelines. A filtered Scan: the
   * ledger is small (TTL keeps it to the retention window) and this serves the operator's
   * `status` and `report`, not the retry path.
   */
  public async recentRecords(since: Date): Promise<LedgerRecord[]> {
    const items = await this.table.scan('begins_with(pk, :ledger) AND updatedAt >= :since', {
      ':ledger': LEDGER_PREFIX,
      ':since': since.toISOString(),
    });
    return items.map(recordOf);
  }
}

export function recordOf(item: Item): LedgerRecord {
  const claims: Claim[] = [];
  const skips: LedgerRecord['skips'][number][] = [];
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith('occ_')) claims.push(claimOf(value));
    if (name.startsWith('skip_')) skips.push(skipOf(value as Record<string, unknown>));
  }
  // A member account's records have its account and region in the key; the central account's do not.
  const { account, region } = parseScopedPipeline(String(item.pk).slice(LEDGER_PREFIX.length));
  return {
    ...(account && region ? { account, region } : {}),
    pipeline: String(item.pipeline),
    stage: String(item.stage),
    executionId: String(item.executionId),
    retries: Number(item.retries ?? 0),
    firstFailureAt: item.firstFailureAt as string | undefined,
    updatedAt: item.updatedAt as string | undefined,
    claims: claims.sort((a, b) => a.occurrence - b.occurrence),
    skips: skips.sort((a, b) => a.occurrence - b.occurrence),
    recoveredAt: item.recoveredAt as string | undefined,
    recoveredAfter: item.recoveredAfter === undefined ? undefined : Number(item.recoveredAfter),
    flaky: Array.isArray(item.flaky) ? flakyOf(item.flaky) : [],
  };
}

function skipOf(s: Record<string, unknown>): LedgerRecord['skips'][number] {
  return {
    ...(s as Pick<LedgerRecord['skips'][number], 'occurrence' | 'reason' | 'detail' | 'at'>),
    ...(s.failureClass !== undefined ? { failureClass: String(s.failureClass) } : {}),
    ...(s.evidence !== undefined ? { evidence: String(s.evidence) } : {}),
    ...(s.failedTests !== undefined ? { failedTests: testsOf(s.failedTests) } : {}),
  };
}

function flakyOf(raw: readonly unknown[]): FlakyTest[] {
  return raw.flatMap((entry) => {
    const f = (entry ?? {}) as Record<string, unknown>;
    const [test] = testsOf([f]);
    return test && typeof f.stage === 'string' && typeof f.at === 'string' ? [{ ...test, stage: f.stage, at: f.at }] : [];
  });
}
