/** One structured JSON line per call, on stdout, where CloudWatch Logs picks it up. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogSink = (line: string) => void;

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

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
