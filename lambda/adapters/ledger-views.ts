import { LEDGER_PREFIX, parseScopedPipeline } from '../../contract';
import { type Claim, ClaimStatus, isOpen, type LedgerKey } from '../domain/ledger';
import type { LedgerView, OpenRecord } from '../ports';
import type { Item } from './dynamo-table';
import { claimAttribute, claimOf, claimsOf } from './items';

/** A ledger record's item read as the port's values: one occurrence's view, the reconciler's open record. */

export function viewOf(item: Item | undefined, occurrence: number): LedgerView {
  const raw = item?.[claimAttribute(occurrence)];
  return {
    snapshot: {
      retries: Number(item?.retries ?? 0),
      firstFailureAt: typeof item?.firstFailureAt === 'string' ? new Date(item.firstFailureAt) : undefined,
    },
    claim: raw ? claimOf(raw) : undefined,
    open: claimsOf(item).filter((c) => isOpen(c) && c.occurrence !== occurrence),
    retriedFingerprints: claimsOf(item)
      .filter((c) => c.status === ClaimStatus.Retried && c.occurrence !== occurrence && c.fingerprint !== '')
      .map((c) => c.fingerprint),
  };
}

/** The stage execution a record stands for, and its open claims. */
export function openRecordOf(item: Item): OpenRecord {
  const scoped = parseScopedPipeline(String(item.pk).slice(LEDGER_PREFIX.length));
  const account = scoped.account ?? (typeof item.account === 'string' ? item.account : undefined);
  const region = scoped.region ?? (typeof item.region === 'string' ? item.region : undefined);
  const key: LedgerKey = {
    pipeline: scoped.pipeline,
    stage: String(item.stage),
    executionId: String(item.executionId),
    ...(account ? { account } : {}),
    ...(region ? { region } : {}),
  };
  return { key, item, open: claimsOf(item).filter(isOpen), retries: Number(item.retries ?? 0) };
}

/** The item with one claim's fields changed, as a write that returned the old item left it. */
export function withClaim(item: Item, occurrence: number, fields: Partial<Claim>): Item {
  const attribute = claimAttribute(occurrence);
  return { ...item, [attribute]: { ...(item[attribute] as Record<string, unknown>), ...fields } };
}
