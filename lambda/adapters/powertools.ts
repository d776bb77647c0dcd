import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE, type MetricName, SERVICE_NAME } from '../../contract';
import type { Logger, LogLevel, MetricFields, MetricsPort } from '../ports';

/** Structured logs through Powertools Logger: one JSON object per line, with service and level. */
export class PowertoolsLogAdapter implements Logger {
  private readonly logger = new PowertoolsLogger({ serviceName: SERVICE_NAME });

  public log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    this.logger[level](message, fields);
  }
}

/**
 * EMF metrics through Powertools Metrics, one EMF document per count. The Pipeline dimension is
 * kept for the pipelines named in configuration only (others count as "other"), so the number
 * of metric series stays bounded however many pipelines fail.
 */
export interface MetricsOptions {
  /** Pipelines that get their own Pipeline dimension. @default none: the dimension is off */
  readonly pipelineDimensions?: ReadonlySet<string> | undefined;
  /** Count per Account too (an organization deployment: a bounded set, its members). @default false */
  readonly accountDimension?: boolean;
}

export class PowertoolsMetricsAdapter implements MetricsPort {
  private readonly metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: SERVICE_NAME });

  private readonly pipelineDimensions: ReadonlySet<string> | undefined;
  private readonly accountDimension: boolean;

  public constructor(options: MetricsOptions = {}) {
    this.pipelineDimensions = options.pipelineDimensions;
    this.accountDimension = options.accountDimension === true;
  }

  public count(name: MetricName, pipeline: string, fields: MetricFields = {}): void {
    const { dimensions = {}, metadata = {} } = fields;
    // The totals ([service] or [service, Reason]) that alarms and the dashboard use, and the same
    // per pipeline when per-pipeline dimensions are on: two series, each counted once.
    this.emit(name, dimensions, pipeline, metadata);
    if (this.pipelineDimensions) {
      this.emit(name, { ...dimensions, Pipeline: this.pipelineDimensions.has(pipeline) ? pipeline : 'other' }, pipeline, metadata);
    }
    if (this.accountDimension && metadata.account !== undefined) {
      this.emit(name, { ...dimensions, Account: String(metadata.account) }, pipeline, metadata);
    }
  }

  private emit(name: MetricName, dimensions: Record<string, string>, pipeline: string, metadata: Record<string, string | number>): void {
    const single = this.metrics.singleMetric();
    for (const [key, value] of Object.entries(dimensions)) single.addDimension(key, value);
    // The pipeline name is always searchable in the EMF document, even when it is not a dimension.
    single.addMetadata('pipeline', pipeline);
    for (const [key, value] of Object.entries(metadata)) single.addMetadata(key, String(value));
    single.addMetric(name, MetricUnit.Count, 1);
  }
}

/** Reads METRIC_PIPELINES: a comma-separated list, `*` for every pipeline name, empty for none. */
export function pipelineDimensionsFrom(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return new Set(
    value
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  );
}
