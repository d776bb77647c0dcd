import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Command, CommanderError } from 'commander';
import { BudgetStore } from '../lambda/adapters/budget-store';
import { LedgerStore } from '../lambda/adapters/ledger-store';
import { PolicyStore } from '../lambda/adapters/policy-store';
import { describeScope, type PolicyScope } from '../lambda/adapters/table-keys';
import { formatDuration, parseDuration } from '../lambda/domain/duration';
import { ConfigurationError, InvalidInputError } from '../lambda/domain/errors';
import { CONFIG_KEYS, NAME_PATTERN, POLICY_FIELDS, resolvePolicy } from '../lambda/domain/policy';
import { type AutoRetryConfig, parseAutoRetryConfig } from '../lib/config';
import { explainFailure } from './explain';
import { colourOf, colourWanted, makeStyle, renderTable, type Style, shortId, shortTime } from './format';
import { historyRows, statusSummary } from './history';
import { addPolicyFlags, describePatch, describeValue, type PolicyFlags, patchFromFlags } from './policy-flags';
import { flakinessReport, reportCsv } from './report';
import { DEFAULT_STACK_NAME, discoverTable } from './table-discovery';

/** Exit codes: 0 done, 1 a fault (DynamoDB unreachable, access denied), 2 bad usage or input. */
export const ExitCode = { Ok: 0, Fault: 1, Usage: 2 } as const;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => Date;
  readonly isTty: boolean;
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  now: () => new Date(),
  isTty: Boolean(process.stdout.isTTY),
};

const PROJECT_CDK_JSON = join(__dirname, '..', 'cdk.json');

interface GlobalOptions {
  table?: string;
  stack?: string;
}

function name(value: string, what: string): string {
  if (!NAME_PATTERN.test(value)) {
    throw new InvalidInputError(`${what} "${value}" is not a valid CodePipeline name ([A-Za-z0-9.@-_], 1-100 characters)`);
  }
  return value;
}

function positiveInteger(value: string, flag: string, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new InvalidInputError(`${flag} must be a whole number from 1 to ${max}, got "${value}"`);
  }
  return Number(value);
}

/** Which policy item a `policy set|delete` names: --default, a pipeline, or a pipeline's stage. */
function scopeFrom(pipeline: string | undefined, opts: { default?: boolean; stage?: string }, verb: string): PolicyScope {
  if (opts.default) {
    if (pipeline) throw new InvalidInputError('give either --default or a pipeline, not both');
    if (opts.stage) throw new InvalidInputError('--stage cannot be used with --default');
    return { kind: 'default' };
  }
  if (!pipeline) throw new InvalidInputError(`missing pipeline: autoretry policy ${verb} <pipeline> [flags] or --default`);
  return opts.stage
    ? { kind: 'stage', pipeline: name(pipeline, 'pipeline'), stage: name(opts.stage, 'stage') }
    : { kind: 'pipeline', pipeline: name(pipeline, 'pipeline') };
}

/** Reads an autoRetry block from a cdk.json (its context.autoRetry) or a bare autoRetry JSON file. */
export function loadConfig(path: string): AutoRetryConfig {
  if (!existsSync(path)) throw new InvalidInputError(`--config: no such file ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InvalidInputError(`--config: ${path} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const obj = raw as { context?: { autoRetry?: unknown } };
  return (obj && typeof obj === 'object' && 'context' in obj ? obj.context?.autoRetry : raw) as AutoRetryConfig;
}

interface Services {
  readonly table: () => Promise<string>;
  readonly policies: () => Promise<PolicyStore>;
  readonly ledger: () => Promise<LedgerStore>;
  readonly budgets: () => Promise<BudgetStore>;
}

function buildProgram(io: CliIo, services: Services, style: Style): Command {
  const program = new Command('autoretry')
    .description('Operate codepipeline-auto-retry: policies, pause switches, history, status and a local sandbox')
    .option('--table <name>', 'the auto-retry DynamoDB table (default: $TABLE_NAME, else the stack output)')
    .option('--stack <name>', `stack to read the TableName output from when no table is given (default: ${DEFAULT_STACK_NAME})`)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .addHelpText(
      'after',
      '\nExamples:\n  npx autoretry simulate\n  npx autoretry policy set web-app --stage Test --max-retries 3 --cooldown 2m\n  npx autoretry history web-app --limit 20\n  npx autoretry status\n  npx autoretry report --since 7d',
    );
  // Every subcommand reports errors through the same one-line path.
  const command = (parent: Command, verb: string) => parent.command(verb).exitOverride();

  const by = (): string => io.env.AUTORETRY_USER ?? io.env.USER ?? safeUser();
  const json = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  const printTable = (headers: readonly string[], rows: Parameters<typeof renderTable>[1], indent = '') => {
    for (const line of renderTable(headers, rows, style)) io.out(`${indent}${line}`);
  };

  // ---- policy ---------------------------------------------------------------------------------
  const policy = command(program, 'policy').description('show and change retry policies');
  addPolicyFlags(
    command(policy, 'set')
      .description('set fields of the default, a pipeline or a stage policy (the item becomes operator-owned)')
      .argument('[pipeline]', 'pipeline name')
      .option('--default', 'change the default policy instead of a pipeline')
      .option('--stage <stage>', 'change one stage of the pipeline'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  autoretry policy set web-app --stage Test --max-retries 3 --cooldown 1m --backoff 2\n' +
        '  autoretry policy set web-app --stage Test --retry-on \'[{"provider":"CodeBuild","message":"timed out|ECONNRESET"}]\'\n' +
        '  autoretry policy set web-app --budget 10/1h\n  autoretry policy set --default --max-retries 1 --mode observe',
    )
    .action(async (pipeline: string | undefined, opts: PolicyFlags & { default?: boolean; stage?: string }) => {
      const scope = scopeFrom(pipeline, opts, 'set');
      const patch = patchFromFlags(opts);
      if (scope.kind === 'stage' && patch.budget) throw new InvalidInputError('--budget is per pipeline: set it without --stage');
      await (await services.policies()).setPolicy(scope, patch, by(), io.now());
      io.out(`set ${describeScope(scope)}: ${describePatch(patch)} (operator-owned: deploys will not overwrite it)`);
    });

  command(policy, 'delete')
    .description('delete a policy item; the next deploy writes cdk.json’s version again, if it has one')
    .argument('[pipeline]', 'pipeline name')
    .option('--default', 'delete the default policy')
    .option('--stage <stage>', 'delete one stage override')
    .addHelpText('after', '\nExample:\n  autoretry policy delete web-app --stage Deploy')
    .action(async (pipeline: string | undefined, opts: { default?: boolean; stage?: string }) => {
      const scope = scopeFrom(pipeline, opts, 'delete');
      const deleted = await (await services.policies()).deletePolicy(scope);
      io.out(deleted ? `deleted ${describeScope(scope)}` : `${describeScope(scope)} has no policy item; nothing deleted`);
    });

  command(policy, 'list')
    .description('list every policy item and who owns it')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  autoretry policy list --json')
    .action(async (opts: { json?: boolean }) => {
      const items = await (await services.policies()).listPolicies();
      if (opts.json) return json(items);
      if (items.length === 0) {
        io.out('no policy items: the built-in default applies (maxRetries=2, cooldown=0, retryMode=FAILED_ACTIONS, mode=enforce)');
        return;
      }
      printTable(
        ['SCOPE', 'POLICY', 'OWNER', 'UPDATED'],
        items.map((i) => [
          describeScope(i.scope),
          describePatch(i.patch),
          i.source === 'cli' ? 'operator' : 'cdk.json',
          shortTime(i.updatedAt),
        ]),
      );
    });

  command(policy, 'get')
    .description('show the effective policy of a pipeline or stage and where each field comes from')
    .argument('<pipeline>', 'pipeline name')
    .option('--stage <stage>', 'stage name')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  autoretry policy get web-app --stage Deploy')
    .action(async (pipeline: string, opts: { stage?: string; json?: boolean }) => {
      name(pipeline, 'pipeline');
      const stage = opts.stage ? name(opts.stage, 'stage') : undefined;
      const store = await services.policies();
      const [context, records] = await Promise.all([store.load(pipeline, stage ?? '-'), (await services.ledger()).listRecords(pipeline)]);
      const resolved = resolvePolicy(context.layers);
      const known = context.layers.pipeline !== undefined || context.layers.stage !== undefined || records.length > 0;
      if (opts.json) return json({ pipeline, stage, known, paused: context.paused, ...resolved });
      if (!known) {
        io.err(
          `note: pipeline ${pipeline} has no policy of its own and no retry history in this table; check the name. The default applies:`,
        );
      }
      const { policy: p, sources } = resolved;
      io.out(`${pipeline}${stage ? `/${stage}` : ''}${context.paused ? `  ${style.paint('PAUSED', 'red')}` : ''}`);
      printTable(
        ['FIELD', 'VALUE', 'FROM'],
        POLICY_FIELDS.map((field) => [CONFIG_KEYS[field], describeValue(field, p[field]), sources[field]]),
        '  ',
      );
    });

  command(policy, 'explain')
    .description('what would happen to a failure like this one, and which rule decides it')
    .argument('<pipeline>', 'pipeline name')
    .requiredOption('--stage <stage>', 'stage name')
    .option('--code <code>', 'the failed action’s error code, e.g. JobFailed')
    .option('--message <text>', 'the failure message or summary')
    .option('--category <category>', 'the action category: Source, Build, Test, Deploy, Approval, Invoke, Compute', 'Build')
    .option('--provider <provider>', 'the action provider, e.g. CodeBuild', 'CodeBuild')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExample:\n  autoretry policy explain web-app --stage Test --code JobFailed --message "Build timed out" --category Test',
    )
    .action(
      async (
        pipeline: string,
        opts: { stage: string; code?: string; message?: string; category: string; provider: string; json?: boolean },
      ) => {
        name(pipeline, 'pipeline');
        name(opts.stage, 'stage');
        const context = await (await services.policies()).load(pipeline, opts.stage);
        const explanation = explainFailure(pipeline, opts.stage, context, opts, io.now());
        if (opts.json) return json(explanation);
        io.out(explanation.summary);
        io.out(`  decided by: ${explanation.decidedBy}`);
      },
    );

  // ---- history and status -------------------------------------------------------------------------
  command(program, 'history')
    .description('the attempt ledger of a pipeline: every retry and every decision not to retry')
    .argument('<pipeline>', 'pipeline name')
    .option('--execution <id>', 'only this pipeline execution')
    .option('--limit <n>', 'at most this many rows (1-1000)', '50')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  autoretry history web-app --limit 20')
    .action(async (pipeline: string, opts: { execution?: string; limit: string; json?: boolean }) => {
      name(pipeline, 'pipeline');
      const limit = positiveInteger(opts.limit, '--limit', 1000);
      const records = await (await services.ledger()).listRecords(pipeline);
      const rows = historyRows(records, { executionId: opts.execution, limit });
      if (opts.json) return json(rows);
      if (records.length === 0) {
        io.out(`no history for pipeline ${pipeline}: unknown pipeline, or no failure handled within the ledger's retention`);
        return;
      }
      if (rows.length === 0) {
        io.out(`no history for execution ${opts.execution ?? ''} of pipeline ${pipeline}`);
        return;
      }
      printTable(
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

  command(program, 'status')
    .description('paused pipelines, retries in the last 24 h, stages out of retries, retries waiting in the delay queue')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  autoretry status --json')
    .action(async (opts: { json?: boolean }) => {
      const since = new Date(io.now().getTime() - 24 * 3600 * 1000);
      const [records, paused] = await Promise.all([
        (await services.ledger()).recentRecords(since),
        (await services.policies()).listPauses(),
      ]);
      const budgets = await (await services.budgets()).list(io.now());
      const summary = { ...statusSummary(records, paused, since, io.now()), budgets };
      if (opts.json) return json(summary);
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

  command(program, 'report')
    .description('the flakiness report: per pipeline and stage, failures, retries, recoveries, exhaustion and skips')
    .option('--since <duration>', 'how far back: e.g. 24h, 7d, 30d', '7d')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .addHelpText('after', '\nExamples:\n  autoretry report --since 7d\n  autoretry report --pipeline web-app --csv > flaky.csv')
    .action(async (opts: { since: string; pipeline?: string; json?: boolean; csv?: boolean }) => {
      const seconds = parseDuration(opts.since);
      if (seconds === undefined || seconds === 0 || seconds > 366 * 86_400) {
        throw new InvalidInputError(`--since must be a duration from 1s to 366d, such as 24h or 7d, got "${opts.since}"`);
      }
      if (opts.json && opts.csv) throw new InvalidInputError('give --json or --csv, not both');
      if (opts.pipeline) name(opts.pipeline, '--pipeline');
      const since = new Date(io.now().getTime() - seconds * 1000).toISOString();
      const ledger = await services.ledger();
      const records = (opts.pipeline ? await ledger.listRecords(opts.pipeline) : await ledger.recentRecords(new Date(since))).filter(
        (r) => (r.firstFailureAt ?? r.updatedAt ?? '') >= since,
      );
      const rows = flakinessReport(records);
      if (opts.json) return json(rows);
      if (opts.csv) {
        for (const line of reportCsv(rows)) io.out(line);
        return;
      }
      if (rows.length === 0) {
        io.out(`no failures handled since ${shortTime(since)}${opts.pipeline ? ` for pipeline ${opts.pipeline}` : ''}`);
        return;
      }
      const pct = (v: number | null) => (v === null ? '-' : `${Math.round(v * 100)}%`);
      printTable(
        ['PIPELINE', 'STAGE', 'FAILURES', 'RETRIES', 'RECOVERED', 'EXHAUSTED', 'RECOVERY', 'MEAN TRIES', 'SKIPPED'],
        rows.map((r) => [
          r.pipeline,
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

  // ---- pause and resume ---------------------------------------------------------------------------
  for (const [verb, paused, text] of [
    ['pause', true, 'stop automatic retries of a pipeline, or of all pipelines with --all'],
    ['resume', false, 'resume automatic retries of a pipeline, or lift the --all switch'],
  ] as const) {
    command(program, verb)
      .description(text)
      .argument('[pipeline]', 'pipeline name')
      .option('--all', 'every pipeline: the account-wide kill switch')
      .addHelpText('after', `\nExamples:\n  autoretry ${verb} web-app\n  autoretry ${verb} --all`)
      .action(async (pipeline: string | undefined, opts: { all?: boolean }) => {
        if (opts.all && pipeline) throw new InvalidInputError(`give either a pipeline or --all, not both`);
        if (!opts.all && !pipeline) throw new InvalidInputError(`missing pipeline: autoretry ${verb} <pipeline> or --all`);
        const target = opts.all ? '*' : name(pipeline ?? '', 'pipeline');
        await (await services.policies()).setPaused(target, paused, by(), io.now());
        io.out(`${verb}d automatic retries of ${opts.all ? 'ALL pipelines' : target}`);
      });
  }

  // ---- simulate -----------------------------------------------------------------------------------
  command(program, 'simulate')
    .description('run scripted pipelines through the real handler locally (dynalite + emulators), with your policies')
    .option('--scenario <name>', 'run one scenario (see --list)')
    .option('--list', 'list the scenarios')
    .option('--config <path>', 'cdk.json (or a bare autoRetry JSON file) whose policies to play', PROJECT_CDK_JSON)
    .option('--pipeline <name>', 'play the scenarios as this pipeline, so its policy applies')
    .option('--stage <name>', 'play the scenarios on this stage (Source, Test, Approve, Deploy)')
    .option('--json', 'print machine-readable results')
    .addHelpText(
      'after',
      '\nExamples:\n  autoretry simulate\n  autoretry simulate --scenario flaky-build --json\n  autoretry simulate --config ../my-app/cdk.json --pipeline payments',
    )
    .action(async (opts: { scenario?: string; list?: boolean; config: string; pipeline?: string; stage?: string; json?: boolean }) => {
      // Loaded on demand: the sandbox pulls in dynalite and the emulators.
      const { SCENARIOS, runSandbox } = require('../local/sandbox') as typeof import('../local/sandbox');
      if (opts.list) {
        if (opts.json) return json(SCENARIOS.map((s) => ({ name: s.name, title: s.title, pipeline: s.pipeline, stage: s.stage })));
        printTable(
          ['SCENARIO', 'PLAYS', 'WHAT IT SHOWS'],
          SCENARIOS.map((s) => [s.name, `${s.pipeline}/${s.stage}`, s.title]),
        );
        return;
      }
      const chosen = opts.scenario ? SCENARIOS.filter((s) => s.name === opts.scenario) : SCENARIOS;
      if (chosen.length === 0) {
        throw new InvalidInputError(`--scenario: no scenario "${opts.scenario}"; one of ${SCENARIOS.map((s) => s.name).join(', ')}`);
      }
      if (opts.pipeline) name(opts.pipeline, '--pipeline');
      if (opts.stage && !['Source', 'Test', 'Approve', 'Deploy'].includes(opts.stage)) {
        throw new InvalidInputError(
          `--stage must be one of Source, Test, Approve, Deploy (the sandbox pipeline's stages), got "${opts.stage}"`,
        );
      }
      const configPath = resolve(opts.config);
      const config = loadConfig(configPath);
      parseAutoRetryConfig(config); // fail on a bad configuration before printing anything
      const notes: string[] = [];
      const text = !opts.json;
      if (text) io.out(style.paint(`codepipeline-auto-retry sandbox: ${chosen.length} scenario(s), policies from ${configPath}`, 'bold'));
      const started = Date.now();
      const results = await runSandbox(chosen, {
        config,
        pipeline: opts.pipeline,
        stage: opts.stage,
        onNote: (note) => {
          notes.push(note);
          if (text) io.out(style.paint(`note: ${note}`, 'dim'));
        },
        onScenario: (s, target) => {
          if (text) io.out(`\n${style.paint(`▶ ${s.name}`, 'bold')}: ${s.title}  (${target.pipeline}/${target.stage})`);
        },
        onEntry: (e) => {
          if (!text) return;
          const mark = { failed: '✖', decision: '→', 'retry-started': '↻', succeeded: '✔', note: '·' }[e.kind];
          const colour = { failed: 'red', decision: undefined, 'retry-started': 'yellow', succeeded: 'green', note: 'dim' } as const;
          io.out(`  ${`${e.t.toFixed(1)}s`.padStart(6)}  ${style.paint(`${mark} ${e.text}`, colour[e.kind])}`);
        },
      });
      const seconds = (Date.now() - started) / 1000;
      if (opts.json) return json({ config: configPath, notes, seconds, results });
      io.out(`\n${style.paint('Summary', 'bold')} (${seconds.toFixed(1)} s)`);
      printTable(
        ['SCENARIO', 'PIPELINE', 'STAGE', 'RETRIES', 'OUTCOME'],
        results.map((r) => [
          r.scenario,
          r.pipeline,
          r.stage,
          String(r.retries),
          { text: r.outcome, colour: colourOf(r.outcome.split(':')[0] ?? '') },
        ]),
      );
    });

  return program;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can drive it in-process too. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let client: DynamoDBClient | undefined;
  let table: Promise<string> | undefined;
  let program: Command | undefined;
  const resolveTable = async (): Promise<string> => {
    const opts = program?.opts<GlobalOptions>() ?? {};
    const given = opts.table ?? io.env.TABLE_NAME;
    if (given) return given;
    const stack = opts.stack ?? io.env.AUTORETRY_STACK ?? DEFAULT_STACK_NAME;
    const found = await discoverTable(stack);
    io.err(`using table ${found} from stack ${stack} (output TableName)`);
    return found;
  };
  const dynamo = (): DynamoDBClient => {
    client ??= new DynamoDBClient({});
    return client;
  };
  const services: Services = {
    table: () => {
      table ??= resolveTable();
      return table;
    },
    policies: async () => new PolicyStore(await services.table(), dynamo()),
    ledger: async () => new LedgerStore(await services.table(), dynamo()),
    budgets: async () => new BudgetStore(await services.table(), dynamo()),
  };
  program = buildProgram(io, services, makeStyle(colourWanted(io.isTty, io.env)));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; they already printed.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version') {
        return ExitCode.Ok;
      }
      return ExitCode.Usage;
    }
    if (error instanceof ConfigurationError) {
      const more = error.problems.length > 1 ? ` (and ${error.problems.length - 1} more)` : '';
      io.err(`error: ${error.problems[0] ?? 'invalid configuration'}${more}`);
      return ExitCode.Usage;
    }
    if (error instanceof InvalidInputError) {
      io.err(`error: ${error.message}`);
      return ExitCode.Usage;
    }
    const e = error instanceof Error ? error : new Error(String(error));
    io.err(`error: ${e.name}: ${e.message.split('\n')[0]}`);
    return ExitCode.Fault;
  } finally {
    client?.destroy();
  }
}
