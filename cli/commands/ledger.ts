import type { Command } from 'commander';
import { formatDuration } from '../../policy/duration';
import { type CommandContext, positiveInteger, subcommand } from '../context';
import { colourOf, renderTable, shortId, shortTime } from '../format';
import { historyDetails, historyRows, statusSummary } from '../history';
import { parsePipelineLabel } from '../where';
import { registerReportCommand } from './report';

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
      const [header, ...lines] = renderTable(
        ['TIME', 'STAGE', 'EXECUTION', 'ATTEMPT', 'CLASS', 'DECISION', 'OUTCOME', 'REASON'],
        rows.map((r) => [
          shortTime(r.time),
          r.stage,
          shortId(r.executionId),
          r.attempt === undefined ? '-' : String(r.attempt),
          r.failureClass ?? '-',
          { text: r.decision, colour: colourOf(r.decision) },
          { text: r.outcome, colour: colourOf(r.outcome) },
          r.reason,
        ]),
        style,
      );
      io.out(header ?? '');
      // Under a classified row, what the provider said and which tests failed.
      rows.forEach((r, i) => {
        io.out(lines[i] ?? '');
        for (const detail of historyDetails(r)) io.out(style.paint(`  ${detail}`, 'dim'));
      });
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
      // Only where failures were classified: a deployment without class rules sees the status it saw before.
      if (summary.latestClasses.length > 0)
        io.out(style.paint(`Class of the latest failure, per stage: ${summary.latestClasses.length}`, 'bold'));
      for (const l of summary.latestClasses) {
        io.out(`  ${l.pipeline}/${l.stage}  ${l.failureClass}  at ${shortTime(l.at)}${l.evidence ? `  ${l.evidence}` : ''}`);
      }
      io.out(style.paint('Retry budgets', 'bold'));
      if (budgets.length === 0) io.out('  none in use');
      for (const b of budgets) {
        const state = b.open ? style.paint(`OPEN (no retries) until ${shortTime(b.reopensAt)}`, 'red') : style.paint('closed', 'green');
        io.out(`  ${b.pipeline}  ${b.used}/${b.maxRetries} in ${formatDuration(b.windowSeconds)}  ${state}`);
      }
    });

  registerReportCommand(program, ctx);
}
