import type { LedgerRecord } from '../lambda/admin/ledger-queries';
import { FAILURE_CLASSES, FailureClass } from '../policy/failure-class';

/**
 * The report's sections by why stages failed: how each failure class fared under our retries,
 * and which tests failed and then passed on a retry (flaky tests).
 */

/** The row for failures with no class, or the class `unknown`. */
export const UNCLASSIFIED = 'unclassified';

/** How the failures of one class fared. */
export interface ClassRow {
  /** A failure class (policy/failure-class.ts), or `unclassified`. */
  readonly failureClass: string;
  /** Failure occurrences of this class the tool handled. */
  readonly failures: number;
  /** Of those, the ones CodePipeline accepted our retry for. */
  readonly retried: number;
  /** Of those retried, the ones whose retry the stage then succeeded after. */
  readonly recovered: number;
  /** recovered / retried; null when none was retried. */
  readonly recoveryRate: number | null;
}

/** The class of an occurrence as the report groups it: `unknown` and none are both unclassified. */
const groupOf = (failureClass: string | undefined) =>
  failureClass === undefined || failureClass === FailureClass.Unknown ? UNCLASSIFIED : failureClass;

/** The vocabulary's order; unclassified, and any word outside the vocabulary, after it. */
const rank = (c: string) => {
  const at = (FAILURE_CLASSES as readonly string[]).indexOf(c);
  return at < 0 ? FAILURE_CLASSES.length : at;
};

/**
 * Per failure class, by the class on each occurrence's claim (or else its skip): failures,
 * retries and recoveries. A recovered stage execution counts as recovered for the failure whose
 * retry was its last one. Most failures first.
 */
export function classReport(records: readonly LedgerRecord[]): ClassRow[] {
  const rows = new Map<string, { failures: number; retried: number; recovered: number }>();
  const count = (failureClass: string | undefined, field: 'failures' | 'retried' | 'recovered') => {
    const counts = rows.get(groupOf(failureClass)) ?? { failures: 0, retried: 0, recovered: 0 };
    counts[field] += 1;
    rows.set(groupOf(failureClass), counts);
  };
  for (const r of records) {
    const classes = new Map<number, string | undefined>();
    for (const s of r.skips) classes.set(s.occurrence, s.failureClass);
    for (const c of r.claims) classes.set(c.occurrence, c.failureClass ?? classes.get(c.occurrence));
    for (const c of classes.values()) count(c, 'failures');
    const retried = r.claims.filter((c) => c.status === 'retried');
    for (const c of retried) count(classes.get(c.occurrence), 'retried');
    const last = retried.reduce<(typeof retried)[number] | undefined>((a, c) => (a && a.attempt > c.attempt ? a : c), undefined);
    if (r.recoveredAt && last) count(classes.get(last.occurrence), 'recovered');
  }
  return [...rows.entries()]
    .map(([failureClass, c]) => ({ failureClass, ...c, recoveryRate: c.retried === 0 ? null : c.recovered / c.retried }))
    .sort((a, b) => b.failures - a.failures || rank(a.failureClass) - rank(b.failureClass) || a.failureClass.localeCompare(b.failureClass));
}

/** One flaky test of one stage: how often it failed and then passed on our retry. */
export interface FlakyRow {
  readonly account?: string;
  readonly region?: string;
  readonly pipeline: string;
  readonly stage: string;
  readonly reportGroup: string;
  readonly suite: string;
  readonly name: string;
  readonly count: number;
  readonly lastSeen: string;
}

/** The flaky tests the records name, per stage and test identity, most frequent first (then the latest seen). */
export function flakyTests(records: readonly LedgerRecord[]): FlakyRow[] {
  const rows = new Map<string, FlakyRow>();
  for (const r of records) {
    for (const f of r.flaky ?? []) {
      const key = [r.account, r.region, r.pipeline, f.stage, f.reportGroup, f.suite, f.name].join('\u0000');
      const seen = rows.get(key);
      rows.set(key, {
        ...(r.account && r.region ? { account: r.account, region: r.region } : {}),
        pipeline: r.pipeline,
        stage: f.stage,
        reportGroup: f.reportGroup,
        suite: f.suite,
        name: f.name,
        count: (seen?.count ?? 0) + 1,
        lastSeen: seen && seen.lastSeen > f.at ? seen.lastSeen : f.at,
      });
    }
  }
  return [...rows.values()].sort(
    (a, b) =>
      b.count - a.count || b.lastSeen.localeCompare(a.lastSeen) || a.pipeline.localeCompare(b.pipeline) || a.name.localeCompare(b.name),
  );
}

const csvCell = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
const csvLine = (cells: readonly string[]) => cells.map(csvCell).join(',');

/** The class section as CSV, with a header. */
export function classCsv(rows: readonly ClassRow[]): string[] {
  return [
    csvLine(['failure_class', 'failures', 'retried', 'recovered', 'recovery_rate']),
    ...rows.map((r) =>
      csvLine([
        r.failureClass,
        String(r.failures),
        String(r.retried),
        String(r.recovered),
        r.recoveryRate === null ? '' : r.recoveryRate.toFixed(3),
      ]),
    ),
  ];
}

/** The flaky-test section as CSV, with a header. */
export function flakyCsv(rows: readonly FlakyRow[]): string[] {
  return [
    csvLine(['pipeline', 'stage', 'report_group', 'suite', 'name', 'count', 'last_seen', 'account', 'region']),
    ...rows.map((r) =>
      csvLine([r.pipeline, r.stage, r.reportGroup, r.suite, r.name, String(r.count), r.lastSeen, r.account ?? '', r.region ?? '']),
    ),
  ];
}
