import type { Command } from 'commander';
import { ACCOUNT_PATTERN, formatScopedPipeline } from '../../contract';
import { parseDuration } from '../../policy/duration';
import { InvalidInputError } from '../../policy/errors';
import { type CommandContext, subcommand } from '../context';
import { type ClassRow, classCsv, classReport, type FlakyRow, flakyCsv, flakyTests, UNCLASSIFIED } from '../failure-report';
import { shortTime } from '../format';
import { reportGroupName, testName } from '../history';
import { flakinessReport, type ReportRow, reportCsv } from '../report';
import { parsePipelineLabel } from '../where';

/** The report's sections: per stage (what `--json` and `--csv` give by default), per failure class, flaky tests. */
export const ReportSection = { Stages: 'stages', Classes: 'classes', Flaky: 'flaky' } as const;
export type ReportSection = (typeof ReportSection)[keyof typeof ReportSection];
const SECTIONS: readonly string[] = Object.values(ReportSection);

const pct = (v: number | null) => (v === null ? '-' : `${Math.round(v * 100)}%`);

/** `autoretry report`: the flakiness report, per stage, per failure class, and the flaky tests. */
export function registerReportCommand(program: Command, ctx: CommandContext): void {
  const { io, services } = ctx;

  subcommand(program, 'report')
    .description(
      'the flakiness report: per pipeline and stage, failures, retries, recoveries, exhaustion and skips; per failure class; flaky tests',
    )
    .option('--since <duration>', 'how far back: e.g. 24h, 7d, 30d', '7d')
    .option('--pipeline <name>', "only this pipeline (<account>/<region>/<pipeline> for a member account's)")
    .option('--account <id>', 'only this account (the central account is "central")')
    .option('--section <name>', 'only one section: stages, classes or flaky (--json and --csv give stages unless told)')
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .addHelpText(
      'after',
      '\nExamples:\n  autoretry report --since 7d\n  autoretry report --pipeline web-app --csv > flaky.csv\n  autoretry report --section flaky --json',
    )
    .action(async (opts: { since: string; pipeline?: string; account?: string; section?: string; json?: boolean; csv?: boolean }) => {
      const seconds = parseDuration(opts.since);
      if (seconds === undefined || seconds === 0 || seconds > 366 * 86_400) {
        throw new InvalidInputError(`--since must be a duration from 1s to 366d, such as 24h or 7d, got "${opts.since}"`);
      }
      if (opts.json && opts.csv) throw new InvalidInputError('give --json or --csv, not both');
      if (opts.section !== undefined && !SECTIONS.includes(opts.section)) {
        throw new InvalidInputError(`--section must be one of ${SECTIONS.join(', ')}, got "${opts.section}"`);
      }
      if (opts.pipeline) parsePipelineLabel(opts.pipeline, '--pipeline');
      if (opts.account !== undefined && opts.account !== 'central' && !ACCOUNT_PATTERN.test(opts.account)) {
        throw new InvalidInputError(`--account must be a 12-digit account id or "central", got "${opts.account}"`);
      }
      const since = new Date(io.now().getTime() - seconds * 1000).toISOString();
      const ledger = await services.ledger();
      const records = (opts.pipeline ? await ledger.listRecords(opts.pipeline) : await ledger.recentRecords(new Date(since))).filter(
        (r) =>
          (r.firstFailureAt ?? r.updatedAt ?? '') >= since && (opts.account === undefined || (r.account ?? 'central') === opts.account),
      );
      const section = opts.section as ReportSection | undefined;
      const rows = flakinessReport(records);
      const classes = classReport(records);
      const flaky = flakyTests(records);
      if (opts.json || opts.csv) {
        const [value, csv] =
          section === ReportSection.Classes
            ? [classes, () => classCsv(classes)]
            : section === ReportSection.Flaky
              ? [flaky, () => flakyCsv(flaky)]
              : [rows, () => reportCsv(rows)];
        if (opts.json) return ctx.json(value);
        for (const line of csv()) io.out(line);
        return;
      }
      if (rows.length === 0) {
        io.out(`no failures handled since ${shortTime(since)}${opts.pipeline ? ` for pipeline ${opts.pipeline}` : ''}`);
        return;
      }
      // Without --section: the stages, then the other sections where the ledger has something for them.
      const shown = (s: ReportSection, has: boolean) => (section === undefined ? has : section === s);
      const printed: (() => void)[] = [];
      if (shown(ReportSection.Stages, true)) printed.push(() => printStages(ctx, rows));
      if (
        shown(
          ReportSection.Classes,
          classes.some((c) => c.failureClass !== UNCLASSIFIED),
        )
      )
        printed.push(() => printClasses(ctx, classes));
      if (shown(ReportSection.Flaky, flaky.length > 0)) printed.push(() => printFlaky(ctx, flaky));
      printed.forEach((print, i) => {
        if (i > 0) io.out('');
        print();
      });
    });
}

function printStages(ctx: CommandContext, rows: readonly ReportRow[]): void {
  ctx.printTable(
    ['PIPELINE', 'STAGE', 'FAILURES', 'RETRIES', 'RECOVERED', 'EXHAUSTED', 'RECOVERY', 'MEAN TRIES', 'SKIPPED'],
    rows.map((r) => [
      formatScopedPipeline(r),
      r.stage,
      String(r.failures),
      String(r.retries),
      { text: String(r.recovered), colour: r.recovered > 0 ? ('green' as const) : undefined },
      { text: String(r.exhausted), colour: r.exhausted > 0 ? ('red' as const) : undefined },
      pct(r.recoveryRate),
      r.meanAttemptsToRecovery === null ? '-' : r.meanAttemptsToRecovery.toFixed(1),
      Object.entries(r.skipped)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    ]),
  );
}

function printClasses(ctx: CommandContext, rows: readonly ClassRow[]): void {
  ctx.io.out(ctx.style.paint('Recovery by failure class', 'bold'));
  ctx.printTable(
    ['CLASS', 'FAILURES', 'RETRIED', 'RECOVERED', 'RECOVERY'],
    rows.map((r) => [
      r.failureClass,
      String(r.failures),
      String(r.retried),
      { text: String(r.recovered), colour: r.recovered > 0 ? ('green' as const) : undefined },
      pct(r.recoveryRate),
    ]),
  );
}

function printFlaky(ctx: CommandContext, rows: readonly FlakyRow[]): void {
  ctx.io.out(ctx.style.paint('Flaky tests (failed, then passed on our retry)', 'bold'));
  if (rows.length === 0) {
    ctx.io.out('none recorded');
    return;
  }
  ctx.printTable(
    ['PIPELINE', 'STAGE', 'TEST', 'REPORT GROUP', 'COUNT', 'LAST SEEN'],
    rows.map((r) => [
      formatScopedPipeline(r),
      r.stage,
      testName(r),
      reportGroupName(r.reportGroup),
      String(r.count),
      shortTime(r.lastSeen),
    ]),
  );
}
