import type { Command } from 'commander';
import { ACCOUNT_PATTERN, formatScopedPipeline } from '../../contract';
import { formatDuration, parseDuration } from '../../policy/duration';
import { InvalidInputError } from '../../policy/errors';
import { type CommandContext, positiveInteger, subcommand } from '../context';
import { colourOf, shortId, shortTime } from '../format';
import { historyRows, statusSummary } from '../history';
import { flakinessReport, reportCsv } from '../report';
import { parsePipelineLabel } from '../where';

/** `autoretry history|status|report`: what the ledger says happened. */
export function registerLedgerCommands(program: Command, ctx: CommandContext): void {
  const { io, services, style } = ctx;

  subcommand(program, 'history')
    .description('the attempt ledger of a pipeline: every retry and every decision not to retry')
    .argument('<pipeline>', "pipeline name, or <account>/<region>/<pipeline> for a member account's")
    .option('--execution <id>', 'only this pipeline execution')
    .option('--limit <n>', 'at most this many rows (1-1000)', '50')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  autoretry history web-app --limit 20')
    .action(async (pipeline: string, opts: { execution?: string; limit: string; json?: boolean }) => {
      parsePipelineLabel(pipeline, 'pipeline');
      const limit = positiveInteger(opts.limit, '--limit', 1000);
      const records = await (await services.ledger()).listRecords(pipeline);
      const rows = historyRows(records, { executionId: opts.execution, limit });
      if (opts.json) return ctx.json(rows);
      if (records.length === 0) {
        io.out(`no history for pipeline ${pipeline}: unknown pipeline, or no failure handled within the ledger's retention`);
        return;
      }
      if (rows.length === 0) {
        io.out(`no history for execution ${opts.execution ?? ''} of pipeline ${pipeline}`);
        return;
      }
      ctx.printTable(
        ['TIME', 'STAGE', 'EXECUTION', 'ATTEMPT', 'DECISION', 'OUTCOME', 'REASON'],
        rows.map((r) => [
          shortTime(r.time),
          r.stage,
          shortId(r.executionId),
          r.attempt === undefined ? '-' : String(r.attempt),
          { text: r.decision, colour: colourOf(r.decision) },
          { text: r.outcome, colour: colourOf(r.outcome) },
          r.reason,
        ]),
      );
    });

  subcommand(program, 'status')
    .description('paused pipelines, retries in the last 24 h, stages out of retries, retries waiting in the delay queue')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  autoretry status --json')
    .action(async (opts: { json?: boolean }) => {
      const since = new Date(io.now().getTime() - 24 * 3600 * 1000);
      const [records, paused] = await Promise.all([
        (await services.ledger()).recentRecords(since),
        (await services.policies()).listPauses(),
      ]);
      const budgets = await services.budgets(io.now());
      const summary = { ...statusSummary(records, paused, since, io.now()), budgets };
      if (opts.json) return ctx.json(summary);
      const killSwitch = paused.some((p) => p.pipeline === '*');
      io.out(style.paint('Paused', 'bold'));
      if (killSwitch) io.out(`  ${style.paint('ALL PIPELINES (autoretry pause --all)', 'red')}`);
      const named = paused.filter((p) => p.pipeline !== '*');
      if (named.length === 0 && !killSwitch) io.out('  none');
      for (const p of named) io.out(`  ${p.pipeline}  (by ${p.updatedBy ?? '?'} at ${shortTime(p.updatedAt)})`);
      io.out(style.paint(`Retries in the last 24 h: ${summary.retries}`, 'bold'));
      for (const [pipeline, count] of Object.entries(summary.retriesByPipeline)) io.out(`  ${pipeline}  ${count}`);
      io.out(style.paint(`Out of retries in the last 24 h: ${summary.exhausted.length}`, 'bold'));
      for (const e of summary.exhausted) io.out(`  ${e.pipeline}/${e.stage}  execution ${shortId(e.executionId)}  at ${shortTime(e.at)}`);
      io.out(style.paint(`Waiting in the delay queue: ${summary.waiting.length}`, 'bold'));
      for (const w of summary.waiting) io.out(`  ${w.pipeline}/${w.stage}  retry ${w.attempt}  due ${shortTime(w.dueAt)}`);
      io.out(style.paint(`Stuck (a holder's lease ran out without an outcome): ${summary.stuck.length}`, 'bold'));
      for (const x of summary.stuck) {
        io.out(
          `  ${style.paint(`${x.pipeline}/${x.stage}`, 'red')}  execution ${shortId(x.executionId)}  retry ${x.attempt}  ${x.status} since ${shortTime(x.leaseUntil)}`,
        );
      }
      io.out(style.paint('Retry budgets', 'bold'));
      if (budgets.length === 0) io.out('  none in use');
      for (const b of budgets) {
        const state = b.open ? style.paint(`OPEN (no retries) until ${shortTime(b.reopensAt)}`, 'red') : style.paint('closed', 'green');
        io.out(`  ${b.pipeline}  ${b.used}/${b.maxRetries} in ${formatDuration(b.windowSeconds)}  ${state}`);
      }
    });

  subcommand(program, 'report')
    .description('the flakiness report: per pipeline and stage, failures, retries, recoveries, exhaustion and skips')
    .option('--since <duration>', 'how far back: e.g. 24h, 7d, 30d', '7d')
    .option('--pipeline <name>', "only this pipeline (<account>/<region>/<pipeline> for a member account's)")
    .option('--account <id>', 'only this account (the central account is "central")')
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .addHelpText('after', '\nExamples:\n  autoretry report --since 7d\n  autoretry report --pipeline web-app --csv > flaky.csv')
    .action(async (opts: { since: string; pipeline?: string; account?: string; json?: boolean; csv?: boolean }) => {
      const seconds = parseDuration(opts.since);
      if (seconds === undefined || seconds === 0 || seconds > 366 * 86_400) {
        throw new InvalidInputError(`--since must be a duration from 1s to 366d, such as 24h or 7d, got "${opts.since}"`);
      }
      if (opts.json && opts.csv) throw new InvalidInputError('give --json or --csv, not both');
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
      const rows = flakinessReport(records);
      if (opts.json) return ctx.json(rows);
      if (opts.csv) {
        for (const line of reportCsv(rows)) io.out(line);
        return;
      }
      if (rows.length === 0) {
        io.out(`no failures handled since ${shortTime(since)}${opts.pipeline ? ` for pipeline ${opts.pipeline}` : ''}`);
        return;
      }
      const pct = (v: number | null) => (v === null ? '-' : `${Math.round(v * 100)}%`);
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
    });
}
