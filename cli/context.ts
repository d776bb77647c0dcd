import type { Command } from 'commander';
import type { BudgetState } from '../lambda/admin/budget-queries';
import type { LedgerQueries } from '../lambda/admin/ledger-queries';
import type { PolicyAdmin } from '../lambda/admin/policy-admin';
import { InvalidInputError } from '../policy/errors';
import { NAME_PATTERN } from '../policy/policy';
import { renderTable, type Style } from './format';
import { callerIdentity } from './identity';

/** Exit codes: 0 done, 1 a fault (DynamoDB unreachable, access denied), 2 bad usage or input. */
export const ExitCode = { Ok: 0, Fault: 1, Usage: 2 } as const;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => Date;
  readonly isTty: boolean;
}

/** The table's stores, opened on first use (the table name may need a stack lookup). */
export interface Services {
  readonly policies: () => Promise<PolicyAdmin>;
  readonly ledger: () => Promise<LedgerQueries>;
  readonly budgets: (now: Date) => Promise<BudgetState[]>;
}

/** What every command gets: where to write, the stores, and the shared ways of writing. */
export interface CommandContext {
  readonly io: CliIo;
  readonly services: Services;
  readonly style: Style;
  /** Who makes a change, for the audit fields: the caller's AWS identity, read once. */
  readonly by: () => Promise<string>;
  readonly json: (value: unknown) => void;
  readonly printTable: (headers: readonly string[], rows: Parameters<typeof renderTable>[1], indent?: string) => void;
}

export function commandContext(io: CliIo, services: Services, style: Style): CommandContext {
  let identity: Promise<string> | undefined;
  return {
    io,
    services,
    style,
    by: () => {
      identity ??= callerIdentity().then((who) => {
        if (who.note) io.err(`note: ${who.note}`);
        return who.name;
      });
      return identity;
    },
    json: (value) => io.out(JSON.stringify(value, null, 2)),
    printTable: (headers, rows, indent = '') => {
      for (const line of renderTable(headers, rows, style)) io.out(`${indent}${line}`);
    },
  };
}

/** A subcommand that reports errors through the program's one-line path. */
export function subcommand(parent: Command, verb: string): Command {
  // One line for bad input: no "(Did you mean …?)" second line.
  return parent.command(verb).exitOverride().showSuggestionAfterError(false);
}

export function pipelineName(value: string, what: string): string {
  if (!NAME_PATTERN.test(value)) {
    throw new InvalidInputError(`${what} "${value}" is not a valid CodePipeline name ([A-Za-z0-9.@-_], 1-100 characters)`);
  }
  return value;
}

export function positiveInteger(value: string, flag: string, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new InvalidInputError(`${flag} must be a whole number from 1 to ${max}, got "${value}"`);
  }
  return Number(value);
}
