import { formatScopedPipeline } from '../contract';
import type { LedgerRecord } from '../lambda/admin/ledger-queries';

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
      });
    }
  }
  rows.sort((a, b) => b.time.localeCompare(a.time));
  return filter.limit === undefined ? rows : rows.slice(0, filter.limit);
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
  };
}
