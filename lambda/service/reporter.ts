import { MetricName } from '../../contract';
import { Outcome, SkipReason } from '../domain/reasons';
import { ActionStatus, type ReportedFailure, type StageView } from '../domain/types';
import { type Logger, type MetricsPort, NoticeKind, type NotifierPort } from '../ports';
import type { Result } from './service-settings';

/** The skip and abandon reasons that operators are told about, and how. */
const NOTIFY_ON: Partial<Record<SkipReason, NoticeKind>> = {
  [SkipReason.MaxRetries]: NoticeKind.Exhausted,
  [SkipReason.RetryWindowPassed]: NoticeKind.GaveUp,
  [SkipReason.BusyTooLong]: NoticeKind.GaveUp,
  [SkipReason.ThrottledTooLong]: NoticeKind.GaveUp,
  [SkipReason.NeverRetryRule]: NoticeKind.NotRetryable,
  [SkipReason.NoRetryRuleMatch]: NoticeKind.NotRetryable,
  [SkipReason.NotRetryable]: NoticeKind.NotRetryable,
  [SkipReason.BudgetExhausted]: NoticeKind.CircuitOpen,
  [SkipReason.PermanentError]: NoticeKind.RetryFailed,
  [SkipReason.ClaimStuck]: NoticeKind.GaveUp,
  [SkipReason.StateLagsBehind]: NoticeKind.GaveUp,
  [SkipReason.SameTestsFailed]: NoticeKind.Stopped,
};

/** Reasons we stop retrying a failure that needed a retry: each is a give-up, counted and told. */
const GIVE_UPS: readonly SkipReason[] = [
  SkipReason.MaxRetries,
  SkipReason.RetryWindowPassed,
  SkipReason.BusyTooLong,
  SkipReason.ThrottledTooLong,
  SkipReason.BudgetExhausted,
  SkipReason.PermanentError,
  SkipReason.ClaimStuck,
  SkipReason.StateLagsBehind,
  SkipReason.SameTestsFailed,
];

const COUNTED_AS_SKIPS: readonly Outcome[] = [Outcome.Skipped, Outcome.Abandoned, Outcome.Observed, Outcome.Failed];

export interface ReportOptions {
  /** The claim's attempt (the n-th automatic retry of the stage execution), when a claim is involved. @default none */
  readonly attempt?: number | undefined;
  /** @default info */
  readonly level?: 'info' | 'warn' | 'error';
  /** Why no retry was made, when that is what the outcome says: the metric's Reason dimension. */
  readonly code?: SkipReason;
}

/** What operators are told, and why. */
export interface NoticeOptions {
  readonly kind: NoticeKind;
  readonly reason: string;
  /** The live state, for the failure summary. */
  readonly view: StageView | undefined;
  /** The skip reason behind it: a give-up is counted too. @default none */
  readonly code?: SkipReason;
}

/**
 * Says what one delivery came to, three ways with the same words: a decision log line, a metric
 * and, for the outcomes operators must hear about, a notification.
 */
export class Reporter {
  public constructor(private readonly deps: { readonly logger: Logger; readonly metrics: MetricsPort; readonly notifier: NotifierPort }) {}

  /** The notice an operator gets for this reason, if any. */
  public noticeFor(reason: SkipReason): NoticeKind | undefined {
    return NOTIFY_ON[reason];
  }

  /** One decision log line and its metrics; returns the delivery's result. */
  public decision(failure: ReportedFailure, outcome: Outcome, reason: string, opts: ReportOptions = {}): Result {
    const { attempt } = opts;
    this.count(failure, outcome, attempt, opts.code);
    this.deps.logger.log(opts.level ?? 'info', 'decision', {
      account: failure.account,
      region: failure.region,
      pipeline: failure.pipeline,
      stage: failure.stage,
      executionId: failure.executionId,
      occurrence: failure.occurrence,
      attempt,
      decision: outcome,
      reason,
    });
    return { outcome, reason, ...(attempt !== undefined ? { attempt } : {}) };
  }

  /** Counts a claim the reconciler found past its deadline. */
  public stuck(failure: ReportedFailure): void {
    this.metric(MetricName.ClaimsStuck, failure, {}, { stage: failure.stage });
  }

  /** Counts that handling waited for throttling (or our own pacing). */
  public throttled(failure: ReportedFailure): void {
    this.metric(MetricName.RetryThrottled, failure, {}, { stage: failure.stage });
  }

  /**
   * Best effort: a notification that cannot be sent is logged, never a reason to fail the event.
   * A give-up is counted too (RetryGaveUp), so a dashboard sees what operators were told.
   */
  public async notify(failure: ReportedFailure, notice: NoticeOptions): Promise<void> {
    const { kind, reason, view, code } = notice;
    if (code && GIVE_UPS.includes(code)) {
      this.metric(MetricName.RetryGaveUp, failure, {}, { stage: failure.stage, reason: code });
    }
    try {
      await this.deps.notifier.notify({
        kind,
        account: failure.account,
        pipeline: failure.pipeline,
        stage: failure.stage,
        executionId: failure.executionId,
        region: failure.region,
        reason,
        failureSummary: summarizeFailure(view),
      });
    } catch (error) {
      this.deps.logger.log('warn', 'notification not sent', { pipeline: failure.pipeline, stage: failure.stage, error });
    }
  }

  /** One count, with where the pipeline lives in the EMF document (and as a dimension, where the adapter keeps one). */
  private metric(
    name: MetricName,
    failure: ReportedFailure,
    dimensions: Record<string, string>,
    metadata: Record<string, string | number>,
  ): void {
    this.deps.metrics.count(name, failure.pipeline, {
      dimensions,
      metadata: { account: failure.account, region: failure.region, ...metadata },
    });
  }

  private count(failure: ReportedFailure, outcome: Outcome, attempt: number | undefined, code: SkipReason | undefined): void {
    if (outcome === Outcome.Retried || outcome === Outcome.Recovered) {
      const name = outcome === Outcome.Retried ? MetricName.RetryAttempted : MetricName.RetryRecovered;
      this.metric(name, failure, {}, { attempt: attempt ?? 0, stage: failure.stage });
      return;
    }
    if (!COUNTED_AS_SKIPS.includes(outcome)) return;
    this.metric(MetricName.RetrySkipped, failure, { Reason: code ?? 'other' }, { stage: failure.stage });
    if (code === SkipReason.MaxRetries) this.metric(MetricName.RetriesExhausted, failure, {}, { stage: failure.stage });
    if (code === SkipReason.BudgetExhausted) this.metric(MetricName.BudgetExhausted, failure, {}, { stage: failure.stage });
  }
}

/** "UnitTests: JobFailed — Build timed out; Lint: …" from the stage's failed actions. */
export function summarizeFailure(view: StageView | undefined): string {
  return (view?.actions ?? [])
    .filter((a) => a.status === ActionStatus.Failed)
    .map((a) => `${a.name}: ${a.errorCode ?? 'failed'}${a.errorMessage || a.summary ? ` — ${a.errorMessage ?? a.summary}` : ''}`)
    .join('; ');
}
