import type { LedgerRecord } from '../../lambda/admin/ledger-queries';
import type { Claim } from '../../lambda/domain/ledger';

/** A claim as the ledger keeps it: occurrence `occurrence`, first attempt, all its times `at`, then `extra`. */
export function ledgerClaim(occurrence: number, at: string, extra: Partial<Claim> = {}): Claim {
  return {
    occurrence,
    attempt: occurrence,
    status: 'retried',
    retryMode: 'FAILED_ACTIONS',
    claimedAt: at,
    dueAt: at,
    leaseUntil: at,
    token: 't',
    fingerprint: 'f',
    busyCount: 0,
    throttleCount: 0,
    uncertain: false,
    ...extra,
  };
}

/** The ledger record of pipeline web-app's `stage` in `executionId`, with nothing in it but `extra`. */
export function ledgerRecord(stage: string, executionId: string, extra: Partial<LedgerRecord>): LedgerRecord {
  return {
    pipeline: 'web-app',
    stage,
    executionId,
    retries: 0,
    firstFailureAt: '2026-03-01T10:00:00.000Z',
    updatedAt: '2026-03-01T10:05:00.000Z',
    claims: [],
    skips: [],
    recoveredAt: undefined,
    recoveredAfter: undefined,
    flaky: [],
    ...extra,
  };
}
