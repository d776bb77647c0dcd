import type { LedgerRecord } from '../lambda/admin/ledger-queries';

/** One row of the flakiness report: how one stage of one pipeline fared. */
export interface ReportRow {
  /** Where the pipeline lives; absent for the central account's own region. */
  readonly account?: string;
  readonly region?: string;
  readonly pipeline: string;
  readonly stage: string;
  /** Failure occurrences the tool handled (each retry's failure counts again). */
  readonly failures: number;
  /** RetryStageExecution calls CodePipeline accepted. */
  readonly retries: number;
  /** Stage executions that succeeded after our retries. */
  readonly recovered: number;
  /** Stage executions that ran out of retries. */
  readonly exhausted: number;
  readonly skipped: Readonly<Record<string, number>>;
  /** recovered / stage executions we retried; null when none was retried. */
  readonly recoveryRate: number | null;
  /** Mean number of our retries a recovered stage execution needed; null when none recovered. */
  readonly meanAttemptsToRecovery: number | null;
}

/** Aggregates ledger records (one per stage execution) into per-stage rows, most failures first. */
export function flakinessReport(records: readonly LedgerRecord[]): ReportRow[] {
  const groups = new Map<string, LedgerRecord[]>();
  for (const r of records) {
    const key = `${r.account ?? ''}\u0000${r.region ?? ''}\u0000${r.pipeline}\u0000${r.stage}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows: ReportRow[] = [];
  for (const group of groups.values()) {
    const first = group[0];
    if (!first) continue;
    const skipped: Record<string, number> = {};
    let failures = 0;
    let retries = 0;
    let retriedExecutions = 0;
    let exhausted = 0;
    const recoveredAfter: number[] = [];
    for (const r of group) {
      failures += new Set([...r.claims.map((c) => c.occurrence), ...r.skips.map((s) => s.occurrence)]).size;
      const made = r.claims.filter((c) => c.status === 'retried').length;
      retries += made;
      if (made > 0) retriedExecutions += 1;
      if (r.skips.some((s) => s.reason === 'max-retries')) exhausted += 1;
      for (const s of r.skips) skipped[s.reason] = (skipped[s.reason] ?? 0) + 1;
      for (const c of r.claims)
        if (c.status === 'abandoned' || c.status === 'failed') skipped[c.outcome ?? c.status] = (skipped[c.outcome ?? c.status] ?? 0) + 1;
      if (r.recoveredAt && r.recoveredAfter !== undefined) recoveredAfter.push(r.recoveredAfter);
    }
    rows.push({
      ...(first.account && first.region ? { account: first.account, region: first.region } : {}),
      pipeline: first.pipeline,
      stage: first.stage,
      failures,
      retries,
      recovered: recoveredAfter.length,
      exhausted,
      skipped,
      recoveryRate: retriedExecutions === 0 ? null : recoveredAfter.length / retriedExecutions,
      meanAttemptsToRecovery: recoveredAfter.length === 0 ? null : recoveredAfter.reduce((a, b) => a + b, 0) / recoveredAfter.length,
    });
  }
  return rows.sort(
    (a, b) =>
      b.failures - a.failures ||
      (a.account ?? '').localeCompare(b.account ?? '') ||
      a.pipeline.localeCompare(b.pipeline) ||
      a.stage.localeCompare(b.stage),
  );
}

const csvCell = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

export function reportCsv(rows: readonly ReportRow[]): string[] {
  const header = [
    'pipeline',
    'stage',
    'failures',
    'retries',
    'recovered',
    'exhausted',
    'recovery_rate',
    'mean_attempts_to_recovery',
    'skipped',
    // New columns go last, so readers of the older CSV keep their column positions.
    'account',
    'region',
  ];
  return [
    header.join(','),
    ...rows.map((r) =>
      [
        r.pipeline,
        r.stage,
        String(r.failures),
        String(r.retries),
        String(r.recovered),
        String(r.exhausted),
        r.recoveryRate === null ? '' : r.recoveryRate.toFixed(3),
        r.meanAttemptsToRecovery === null ? '' : r.meanAttemptsToRecovery.toFixed(2),
        Object.entries(r.skipped)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        r.account ?? '',
        r.region ?? '',
      ]
        .map(csvCell)
        .join(','),
    ),
  ];
}
