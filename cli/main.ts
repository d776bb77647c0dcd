import { userInfo } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Command, CommanderError, Option } from 'commander';
import { PolicyStore } from '../lambda/adapters/policy-store';
import { describeScope, type PolicyScope } from '../lambda/adapters/table-keys';
import { formatDuration } from '../lambda/domain/duration';
import { InvalidInputError } from '../lambda/domain/errors';
import { NAME_PATTERN, type PolicyPatch, resolvePolicy, validatePolicyPatch } from '../lambda/domain/policy';

/** Exit codes: 0 done, 1 a fault (DynamoDB unreachable, access denied), 2 bad usage or input. */
export const ExitCode = { Ok: 0, Fault: 1, Usage: 2 } as const;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => Date;
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  now: () => new Date(),
};

interface GlobalOptions {
  table?: string;
}

function name(value: string, what: string): string {
  if (!NAME_PATTERN.test(value)) {
    throw new InvalidInputError(`${what} "${value}" is not a valid CodePipeline name ([A-Za-z0-9.@-_], 1-100 characters)`);
  }
  return value;
}

function tableName(opts: GlobalOptions, io: CliIo): string {
  const table = opts.table ?? io.env.TABLE_NAME;
  if (!table) throw new InvalidInputError('no table: pass --table <name> or set TABLE_NAME (the stack output TableName)');
  return table;
}

function describePatch(patch: PolicyPatch): string {
  const parts: string[] = [];
  if (patch.maxRetries !== undefined) parts.push(`maxRetries=${patch.maxRetries}`);
  if (patch.cooldownSeconds !== undefined) parts.push(`cooldown=${formatDuration(patch.cooldownSeconds)}`);
  if (patch.retryMode !== undefined) parts.push(`retryMode=${patch.retryMode}`);
  return parts.join(', ');
}

/** Parses `policy set` flags into a validated patch; any bad value is an InvalidInputError. */
export function patchFromFlags(flags: { maxRetries?: string; cooldown?: string; retryMode?: string }): PolicyPatch {
  const raw: Record<string, unknown> = {};
  if (flags.maxRetries !== undefined) {
    raw.maxRetries = /^-?\d+$/.test(flags.maxRetries) ? Number(flags.maxRetries) : flags.maxRetries;
  }
  if (flags.cooldown !== undefined) raw.cooldown = flags.cooldown;
  if (flags.retryMode !== undefined) raw.retryMode = flags.retryMode;
  const { patch, problems } = validatePolicyPatch(raw, 'flag');
  const first = problems[0];
  if (first) {
    throw new InvalidInputError(
      first.replace('flag.maxRetries', '--max-retries').replace('flag.cooldown', '--cooldown').replace('flag.retryMode', '--retry-mode'),
    );
  }
  if (Object.keys(patch).length === 0) {
    throw new InvalidInputError('nothing to set: give at least one of --max-retries, --cooldown, --retry-mode');
  }
  return patch;
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

function buildProgram(io: CliIo, store: (table: string) => PolicyStore): Command {
  const program = new Command('autoretry')
    .description('Operate codepipeline-auto-retry: retry policies and pause switches')
    .option('--table <name>', 'the auto-retry DynamoDB table (default: $TABLE_NAME)')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const by = (): string => io.env.AUTORETRY_USER ?? io.env.USER ?? safeUser();

  const policy = program.command('policy').description('show and change retry policies');
  policy
    .command('set')
    .description('set fields of the default, a pipeline or a stage policy (the item becomes operator-owned)')
    .argument('[pipeline]', 'pipeline name')
    .option('--default', 'change the default policy instead of a pipeline')
    .option('--stage <stage>', 'change one stage of the pipeline')
    .option('--max-retries <n>', 'automatic retries per stage execution, 0-10')
    .option('--cooldown <duration>', 'wait before retrying: 0, 45s, 5m, 2h or seconds (max 12h)')
    .addOption(new Option('--retry-mode <mode>', 'what a retry re-runs').choices(['FAILED_ACTIONS', 'ALL_ACTIONS']))
    .addHelpText(
      'after',
      '\nExamples:\n  autoretry policy set web-app --stage Test --max-retries 3 --cooldown 2m\n  autoretry policy set --default --max-retries 1',
    )
    .action(
      async (
        pipeline: string | undefined,
        opts: { default?: boolean; stage?: string; maxRetries?: string; cooldown?: string; retryMode?: string },
      ) => {
        const scope = scopeFrom(pipeline, opts, 'set');
        const patch = patchFromFlags(opts);
        const table = tableName(globals(), io);
        await store(table).setPolicy(scope, patch, by(), io.now());
        io.out(`set ${describeScope(scope)}: ${describePatch(patch)} (operator-owned: deploys will not overwrite it)`);
      },
    );

  policy
    .command('delete')
    .description('delete a policy item; the next deploy writes cdk.json’s version again, if it has one')
    .argument('[pipeline]', 'pipeline name')
    .option('--default', 'delete the default policy')
    .option('--stage <stage>', 'delete one stage override')
    .addHelpText('after', '\nExample:\n  autoretry policy delete web-app --stage Deploy')
    .action(async (pipeline: string | undefined, opts: { default?: boolean; stage?: string }) => {
      const scope = scopeFrom(pipeline, opts, 'delete');
      const deleted = await store(tableName(globals(), io)).deletePolicy(scope);
      io.out(deleted ? `deleted ${describeScope(scope)}` : `${describeScope(scope)} has no policy item; nothing deleted`);
    });

  policy
    .command('list')
    .description('list every policy item and who owns it')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const items = await store(tableName(globals(), io)).listPolicies();
      if (opts.json) {
        io.out(JSON.stringify(items, null, 2));
        return;
      }
      if (items.length === 0) {
        io.out('no policy items: the built-in default applies (maxRetries=2, cooldown=0, retryMode=FAILED_ACTIONS)');
        return;
      }
      for (const item of items) {
        io.out(
          `${describeScope(item.scope).padEnd(40)} ${describePatch(item.patch).padEnd(58)} ${item.source === 'cli' ? 'operator' : 'cdk.json'}`,
        );
      }
    });

  policy
    .command('get')
    .description('show the effective policy of a pipeline or stage and where each field comes from')
    .argument('<pipeline>', 'pipeline name')
    .option('--stage <stage>', 'stage name')
    .option('--json', 'print JSON')
    .action(async (pipeline: string, opts: { stage?: string; json?: boolean }) => {
      name(pipeline, 'pipeline');
      const stage = opts.stage ? name(opts.stage, 'stage') : '-';
      const context = await store(tableName(globals(), io)).load(pipeline, stage);
      const resolved = resolvePolicy(context.layers);
      if (opts.json) {
        io.out(JSON.stringify({ pipeline, stage: opts.stage, ...resolved, paused: context.paused }, null, 2));
        return;
      }
      const { policy: p, sources } = resolved;
      io.out(`${pipeline}${opts.stage ? `/${opts.stage}` : ''}${context.paused ? '  (PAUSED)' : ''}`);
      io.out(`  maxRetries  ${String(p.maxRetries).padEnd(16)} from ${sources.maxRetries}`);
      io.out(`  cooldown    ${formatDuration(p.cooldownSeconds).padEnd(16)} from ${sources.cooldownSeconds}`);
      io.out(`  retryMode   ${p.retryMode.padEnd(16)} from ${sources.retryMode}`);
    });

  for (const [verb, paused, text] of [
    ['pause', true, 'stop automatic retries of a pipeline until resumed'],
    ['resume', false, 'resume automatic retries of a paused pipeline'],
  ] as const) {
    program
      .command(verb)
      .description(text)
      .argument('<pipeline>', 'pipeline name')
      .addHelpText('after', `\nExample:\n  autoretry ${verb} web-app`)
      .action(async (pipeline: string) => {
        await store(tableName(globals(), io)).setPaused(name(pipeline, 'pipeline'), paused, by(), io.now());
        io.out(`${verb}d automatic retries of ${pipeline}`);
      });
  }

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
  const store = (table: string): PolicyStore => {
    client ??= new DynamoDBClient({});
    return new PolicyStore(table, client);
  };
  const program = buildProgram(io, store);
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
