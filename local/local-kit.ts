import type { LogSink } from '../lambda/adapters/json-logger';
import type { MetricFields, MetricName, MetricsPort } from '../lambda/ports';

/** What tests and the sandbox watch the handler with: its log lines, its metrics, and a clock they move by hand. */

/** Collects the JSON log lines the handler writes. */
export class LogCapture {
  public readonly lines: Record<string, unknown>[] = [];
  public readonly sink: LogSink = (line) => {
    this.lines.push(JSON.parse(line) as Record<string, unknown>);
  };

  public decisions(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.message === 'decision');
  }
}

/** A clock tests move by hand; the emulators follow it too. */
export class ManualClock {
  public constructor(public current: number = Date.parse('2026-03-01T10:15:02Z')) {}
  public readonly now = (): Date => new Date(this.current);
  public advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}

/** Metrics kept in memory, for tests and the sandbox. */
export class RecordingMetrics implements MetricsPort {
  public readonly counts: {
    name: MetricName;
    pipeline: string;
    dimensions: Record<string, string>;
    metadata: Record<string, string | number>;
  }[] = [];

  public count(name: MetricName, pipeline: string, fields: MetricFields = {}): void {
    const { dimensions = {}, metadata = {} } = fields;
    this.counts.push({ name, pipeline, dimensions, metadata });
  }
}
