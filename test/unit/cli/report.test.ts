import { flakinessReport, reportCsv } from '../../../cli/report';
import type { LedgerRecord } from '../../../lambda/admin/ledger-queries';
import type { Claim } from '../../../lambda/domain/ledger';

const claim = (occurrence: number, status: Claim['status'], outcome?: string): Claim => ({
  occurrence,
  attempt: occurrence,
  status,
  retryMode: 'FAILED_ACTIONS',
  claimedAt: '2026-03-01T10:00:00.000Z',
  dueAt: '2026-03-01T10:00:00.000Z',
  leaseUntil: '2026-03-01T10:02:00.000Z',
  throttleCount: 0,
  uncertain: false,
  token: 't',
  fingerprint: 'f',
  busyCount: 0,
  ...(outcome ? { outcome } : {}),
});

const record = (stage: string, executionId: string, extra: Partial<LedgerRecord>): LedgerRecord => ({
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
});

describe('Function: flakinessReport', () => {
  it('counts failures, retries, recoveries, exhaustion and skips per stage', () => {
    // Prepare: Test recovered after 1 retry in e1, after 2 in e2, ran out in e3; Deploy was filtered once.
    const records = [
      record('Test', 'e1', { claims: [claim(1, 'retried')], recoveredAt: '2026-03-01T10:06:00Z', recoveredAfter: 1 }),
      record('Test', 'e2', { claims: [claim(1, 'retried'), claim(2, 'retried')], recoveredAt: '2026-03-01T10:09:00Z', recoveredAfter: 2 }),
      record('Test', 'e3', {
        claims: [claim(1, 'retried'), claim(2, 'retried')],
        skips: [{ occurrence: 3, reason: 'max-retries', detail: '', at: '2026-03-01T10:10:00Z' }],
      }),
      record('Deploy', 'e4', { skips: [{ occurrence: 1, reason: 'never-retry-rule', detail: '', at: '2026-03-01T10:10:00Z' }] }),
      record('Deploy', 'e5', { claims: [claim(1, 'abandoned', 'superseded')] }),
    ];

    // Act
    const rows = flakinessReport(records);

    // Assess
    expect(rows).toEqual([
      {
        pipeline: 'web-app',
        stage: 'Test',
        failures: 6,
        retries: 5,
        recovered: 2,
        exhausted: 1,
        skipped: { 'max-retries': 1 },
        recoveryRate: 2 / 3,
        meanAttemptsToRecovery: 1.5,
      },
      {
        pipeline: 'web-app',
        stage: 'Deploy',
        failures: 2,
        retries: 0,
        recovered: 0,
        exhausted: 0,
        skipped: { 'never-retry-rule': 1, superseded: 1 },
        recoveryRate: null,
        meanAttemptsToRecovery: null,
      },
    ]);
  });

  it('writes CSV with a header, account and region last, empty for the central account', () => {
    // Act
    const lines = reportCsv(
      flakinessReport([
        record('Test', 'e1', { claims: [claim(1, 'retried')], recoveredAt: 'x', recoveredAfter: 1 }),
        record('Test', 'e2', { account: '222222222222', region: 'eu-west-1', claims: [claim(1, 'retried'), claim(2, 'retried')] }),
      ]),
    );

    // Assess
    expect(lines).toEqual([
      'pipeline,stage,failures,retries,recovered,exhausted,recovery_rate,mean_attempts_to_recovery,skipped,account,region',
      'web-app,Test,2,2,0,0,0.000,,,222222222222,eu-west-1',
      'web-app,Test,1,1,1,0,1.000,1.00,,,',
    ]);
  });
});
