import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Command, CommanderError } from 'commander';
import { DEFAULT_STACK_NAME } from '../contract';
import { DynamoTable } from '../lambda/adapters/dynamo-table';
import { listBudgets } from '../lambda/admin/budget-queries';
import { LedgerQueries } from '../lambda/admin/ledger-queries';
import { PolicyAdmin } from '../lambda/admin/policy-admin';
import { ConfigurationError, InvalidInputError } from '../policy/errors';
import { show } from '../policy/show';
import { registerLedgerCommands } from './commands/ledger';
import { registerPauseCommands } from './commands/pause';
import { registerPolicyCommands } from './commands/policy';
import { registerSandboxCommand } from './commands/sandbox';
import { registerSimulateCommand } from './commands/simulate';
import { type CliIo, commandContext, ExitCode, type Services } from './context';
import { dynamoFault, endpointOf, Service, ServiceFaultError } from './faults';
import { colourWanted, makeStyle } from './format';
import { discoverTable } from './table-discovery';
import { packageVersion } from './version';

export { type CliIo, ExitCode } from './context';

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  now: () => new Date(),
  isTty: Boolean(process.stdout.isTTY),
};

/** DynamoDB's rule for table names. */
const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

interface GlobalOptions {
  table?: string;
  stack?: string;
}

function buildProgram(io: CliIo, services: Services): Command {
  const program = new Command('autoretry')
    .description('Operate codepipeline-auto-retry: policies, pause switches, history, status and a local sandbox')
    .option('--table <name>', 'the auto-retry DynamoDB table (default: $TABLE_NAME, else the stack output)')
    .option('--stack <name>', `stack to read the TableName output from when no table is given (default: ${DEFAULT_STACK_NAME})`)
    .version(packageVersion(), '--version', 'print the version')
    .showHelpAfterError(false)
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .addHelpText(
      'after',
      '\nExamples:\n  npx autoretry simulate\n  npx autoretry policy set web-app --stage Test --max-retries 3 --cooldown 2m\n  npx autoretry history web-app --limit 20\n  npx autoretry status\n  npx autoretry report --since 7d',
    );
  const ctx = commandContext(io, services, makeStyle(colourWanted(io.isTty, io.env)));
  registerPolicyCommands(program, ctx);
  registerLedgerCommands(program, ctx);
  registerPauseCommands(program, ctx);
  registerSimulateCommand(program, ctx);
  registerSandboxCommand(program, ctx);
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can drive it in-process too. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let client: DynamoDBClient | undefined;
  let table: Promise<DynamoTable> | undefined;
  let tableName: string | undefined;
  let program: Command | undefined;
  const resolveTable = async (): Promise<DynamoTable> => {
    const opts = program?.opts<GlobalOptions>() ?? {};
    client ??= new DynamoDBClient({});
    const given = opts.table ?? io.env.TABLE_NAME;
    if (given) {
      if (!TABLE_NAME.test(given)) {
        throw new InvalidInputError(
          `${opts.table ? '--table' : 'TABLE_NAME'} must be a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -), got ${show(given)}`,
        );
      }
      tableName = given;
      return new DynamoTable(given, client);
    }
    const stack = opts.stack ?? io.env.AUTORETRY_STACK ?? DEFAULT_STACK_NAME;
    const found = await discoverTable(stack, { env: io.env });
    io.err(`using table ${found.table} from stack ${stack} (output ${found.output})`);
    tableName = found.table;
    return new DynamoTable(found.table, client);
  };
  const openTable = (): Promise<DynamoTable> => {
    table ??= resolveTable();
    return table;
  };
  const services: Services = {
    policies: async () => new PolicyAdmin(await openTable()),
    ledger: async () => new LedgerQueries(await openTable()),
    budgets: async (now) => listBudgets(await openTable(), now),
  };
  program = buildProgram(io, services);
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
      // Every problem, one line each: fixing one at a time and running again is slow.
      for (const problem of error.problems.length > 0 ? error.problems : ['invalid configuration']) io.err(`error: ${problem}`);
      return ExitCode.Usage;
    }
    const fault =
      error instanceof ServiceFaultError
        ? error
        : client && dynamoFault(error, { table: tableName, endpoint: await endpointOf(client, Service.DynamoDB, io.env) });
    if (fault) {
      io.err(`error: ${fault.message}`);
      return ExitCode.Fault;
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
