import type { Logger, LogLevel } from '../ports';

export type LogSink = (line: string) => void;

/** One structured JSON line per call, on stdout by default: for the seeder, tests and the sandbox. */
export class JsonLogger implements Logger {
  public constructor(
    private readonly sink: LogSink = (line) => process.stdout.write(`${line}\n`),
    private readonly base: Record<string, unknown> = {},
  ) {}

  public log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    this.sink(JSON.stringify({ level, message, ...this.base, ...fields, timestamp: new Date().toISOString() }, errorReplacer));
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(value.cause ? { cause: value.cause } : {}) };
  }
  return value;
}
