import { formatScopedPipeline } from '../contract';
import type { LedgerRecord } from '../lambda/admin/ledger-queries';
import type { TestIdentity } from '../lambda/domain/provider-answers';

/** One line of `autoretry history`: an attempt or a decision not to retry. */
export interface HistoryRow {
  readonly time: string;
  readonly pipeline: string;
  readonly stage: string;
  readonly executionId: string;
  /** The retry's number within the stage execution; absent for a decision not to retry. */
  readonly attempt: number | undefined;
  /** retried, scheduled, retrying, abandoned, failed, skipped, observed */
  readonly decision: string;
  readonly outcome: string;
  readonly reason: string;
  /** Why the failure happened (policy/failure-class.ts); absent when it was not classified. */
  readonly failureClass?: string;
  /** What the provider said, in one line. */
  readonly evidence?: string;
  /** For a test failure: the failed test cases. */
  readonly failedTests?: readonly TestIdentity[];
}

/** What a claim, a skip or a history row says about why its failure happened; every field optional. */
export type Classified = Pick<HistoryRow, 'failureClass' | 'evidence' | 'failedTests'>;

/** The class fields of a claim or skip that has them, to spread into what is shown; nothing for one that has not. */
export function classFields(c: Classified): Classified {
  return {
    ...(c.failureClass !== undefined ? { failureClass: c.failureClass } : {}),
    ...(c.evidence !== undefined ? { evidence: c.evidence } : {}),
    ...(c.failedTests !== undefined && c.failedTests.length > 0 ? { failedTests: c.failedTests } : {}),
  };
}

/** Flattens ledger records into history rows, newest first. */
export function historyRows(records: readonly LedgerRecord[], filter: { executionId?: string; limit?: number } = {}): HistoryRow[] {
  const rows: HistoryRow[] = [];
  for (const r of records) {
    if (filter.executionId && r.executionId !== filter.executionId) continue;
    for (const c of r.claims) {
      rows.push({
        time: c.finishedAt ?? c.claimedAt,
        pipeline: formatScopedPipeline(r),
        stage: r.stage,
        executionId: r.executionId,
        attempt: c.attempt,
        decision: c.status,
        outcome: c.outcome ?? (c.status === 'scheduled' ? `due ${c.dueAt}` : '-'),
        reason: c.reason ?? '',
        ...classFields(c),
      });
    }
    for (const s of r.skips) {
      rows.push({
        time: s.at,
        pipeline: formatScopedPipeline(r),
        stage: r.stage,
        executionId: r.executionId,
        attempt: undefined,
        decision: s.reason === 'observe-only' ? 'observed' : 'skipped',
        outcome: s.reason,
        reason: s.detail,
        ...classFields(s),
      });
    }
  }
  rows.sort((a, b) => b.time.localeCompare(a.time));
  return filter.limit === undefined ? rows : rows.slice(0, filter.limit);
}

/** At most this many failed tests are named under a history row; the rest are counted (`--json` has them all). */
export const TESTS_SHOWN = 5;

/** A test by its suite and name, as the classifier's evidence names it: `Suite.name`, or the name alone. */
export function testName(t: Pick<TestIdentity, 'suite' | 'name'>): string {
  return t.suite ? `${t.suite}.${t.name}` : t.name;
}

/** A failed test as a person reads it: its name, and the report group by its name. */
export function testLabel(t: TestIdentity): string {
  return `${testName(t)} (${reportGroupName(t.reportGroup)})`;
}

/** A report group by its name: the ARN's part after `report/`, or the value as it is. */
export function reportGroupName(reportGroup: string): string {
  const at = reportGroup.indexOf(':report/');
  return at < 0 ? reportGroup : reportGroup.slice(at + ':report/'.length);
}

/** The lines printed under a history row: its evidence and its failed tests; none for a row without them. */
export function historyDetails(row: Classified): string[] {
  const lines = row.evidence ? [`evidence: ${row.evidence}`] : [];
  const tests = row.failedTests ?? [];
  if (tests.length > 0) {
    const more = tests.length > TESTS_SHOWN ? `, and ${tests.length - TESTS_SHOWN} more` : '';
    lines.push(`failed tests (${tests.length}): ${tests.slice(0, TESTS_SHOWN).map(testLabel).join(', ')}${more}`);
  }
  return lines;
}

/** The class of a stage's latest failure in the window, as `status` shows it. */
export interface LatestClass {
  readonly pipeline: string;
  readonly stage: string;
  readonly executionId: string;
  readonly failureClass: string;
  readonly evidence?: string;
  /** When the failure happened (or, for one left alone, when it was decided). */
  readonly at: string;
}

/**
 * Per pipeline and stage, the class of its latest failure since `sinceIso`, where that failure
 * was classified (a stage whose latest failure was not is left out); newest first.
 */
export function latestClasses(records: readonly LedgerRecord[], sinceIso: string): LatestClass[] {
  const latest = new Map<string, { at: string; found: LatestClass | undefined }>();
  for (const r of records) {
    const pipeline = formatScopedPipeline(r);
    const occurrences = new Map<number, { at: string } & Classified>();
    for (const s of r.skips) occurrences.set(s.occurrence, { at: s.at, ...classFields(s) });
    for (const c of r.claims) {
      const skip = occurrences.get(c.occurrence);
      occurrences.set(c.occurrence, { ...skip, at: c.failedAt ?? c.claimedAt, ...classFields(c) });
    }
    for (const o of occurrences.values()) {
      const key = `${pipeline}\u0000${r.stage}`;
      if (o.at < sinceIso || (latest.get(key)?.at ?? '') > o.at) continue;
      const found =
        o.failureClass === undefined
          ? undefined
          : {
              pipeline,
              stage: r.stage,
              executionId: r.executionId,
              failureClass: o.failureClass,
              ...(o.evidence !== undefined ? { evidence: o.evidence } : {}),
              at: o.at,
            };
      latest.set(key, { at: o.at, found });
    }
  }
  return [...latest.values()].flatMap((l) => (l.found ? [l.found] : [])).sort((a, b) => b.at.localeCompare(a.at));
}

export interface StatusSummary {
  readonly since: string;
  readonly paused: readonly { pipeline: string; updatedAt: string | undefined; updatedBy: string | undefined }[];
  readonly retriesByPipeline: Readonly<Record<string, number>>;
  readonly retries: number;
  readonly exhausted: readonly { pipeline: string; stage: string; executionId: string; at: string }[];
  readonly waiting: readonly { pipeline: string; stage: string; executionId: string; attempt: number; dueAt: string }[];
  /**
   * Claims whose holder's lease ran out without an outcome: an instance died, or a delay message
   * was lost. The next delivery of that failure settles them; until then they need a look.
   */
  readonly stuck: readonly { pipeline: string; stage: string; executionId: string; attempt: number; status: string; leaseUntil: string }[];
  /** The class of each stage's latest failure in the window, where it was classified. */
  readonly latestClasses: readonly LatestClass[];
}

/** What `autoretry status` shows, from the ledger records of the window. */
export function statusSummary(
  records: readonly LedgerRecord[],
  paused: StatusSummary['paused'],
  since: Date,
  now: Date = new Date(),
): StatusSummary {
  const stuck: StatusSummary['stuck'][number][] = [];
  const sinceIso = since.toISOString();
  const retriesByPipeline: Record<string, number> = {};
  const exhausted: { pipeline: string; stage: string; executionId: string; at: string }[] = [];
  const waiting: { pipeline: string; stage: string; executionId: string; attempt: number; dueAt: string }[] = [];
  for (const r of records) {
    for (const c of r.claims) {
      if (c.status === 'retried' && (c.finishedAt ?? c.claimedAt) >= sinceIso) {
        retriesByPipeline[formatScopedPipeline(r)] = (retriesByPipeline[formatScopedPipeline(r)] ?? 0) + 1;
      }
      if (c.status === 'scheduled') {
        waiting.push({ pipeline: formatScopedPipeline(r), stage: r.stage, executionId: r.executionId, attempt: c.attempt, dueAt: c.dueAt });
      }
      if ((c.status === 'scheduled' || c.status === 'retrying') && Date.parse(c.leaseUntil) < now.getTime()) {
        stuck.push({
          pipeline: formatScopedPipeline(r),
          stage: r.stage,
          executionId: r.executionId,
          attempt: c.attempt,
          status: c.status,
          leaseUntil: c.leaseUntil,
        });
      }
    }
    const spent = r.skips.filter((s) => s.reason === 'max-retries' && s.at >= sinceIso);
    const last = spent[spent.length - 1];
    if (last) exhausted.push({ pipeline: formatScopedPipeline(r), stage: r.stage, executionId: r.executionId, at: last.at });
  }
  return {
    since: sinceIso,
    paused,
    retriesByPipeline,
    retries: Object.values(retriesByPipeline).reduce((a, b) => a + b, 0),
    exhausted: exhausted.sort((a, b) => b.at.localeCompare(a.at)),
    waiting: waiting.sort((a, b) => a.dueAt.localeCompare(b.dueAt)),
    stuck,
    latestClasses: latestClasses(records, sinceIso),
  };
}
