import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, MetricName, SERVICE_NAME } from '../contract';

export interface OperationsProps {
  /** The retry function whose errors, throttles, duration and dropped events are watched. */
  readonly retryFunction: lambda.IFunction;
  /** Dead-letter queues: any message in one is an alarm. Keyed by a readable name. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /** The delay queue: its depth is shown, not alarmed (retries waiting there are normal). */
  readonly delayQueue: sqs.IQueue;
  /** Where alarms are sent. */
  readonly topic: sns.ITopic;
  /** Stages running out of retries in one hour that raise the alarm. */
  readonly exhaustedPerHour: number;
  /** The reconciler's period: a claim it finds stuck in two runs in a row raises the alarm. */
  readonly reconcileEvery: Duration;
}

const product = (name: string, statistic = 'Sum', period = Duration.minutes(5)) =>
  new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName: name, dimensionsMap: { service: SERVICE_NAME }, statistic, period });

/**
 * The operator's view: a dashboard of what the auto-retry did and how healthy it is, and alarms
 * (to the notifications topic) for anything stuck or lost.
 */
export class AutoRetryOperations extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: cloudwatch.IAlarm[] = [];

  public constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const fn = props.retryFunction;
    const asyncDropped = new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'AsyncEventsDropped',
      dimensionsMap: { FunctionName: fn.functionName },
      statistic: 'Sum',
      period: Duration.minutes(5),
    });
    const skipsByReason = new cloudwatch.MathExpression({
      expression: `SEARCH('{${METRIC_NAMESPACE},Reason,service} MetricName="${MetricName.RetrySkipped}"', 'Sum', 300)`,
      label: 'Skipped:',
      period: Duration.minutes(5),
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Retries and what came of them',
            width: 12,
            left: [
              product(MetricName.RetryAttempted),
              product(MetricName.RetryRecovered),
              product(MetricName.RetriesExhausted),
              product(MetricName.BudgetExhausted),
            ],
          }),
          new cloudwatch.GraphWidget({ title: 'Failures not retried, by reason', width: 12, left: [skipsByReason] }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Give-ups operators were told about, throttled waits, unreadable input, claims the reconciler woke',
            width: 24,
            left: [
              product(MetricName.RetryGaveUp),
              product(MetricName.RetryThrottled),
              product(MetricName.MalformedInput),
              product(MetricName.ClaimsStuck),
            ],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Retry function: errors, throttles, dropped events',
            width: 12,
            left: [fn.metricErrors({ period: Duration.minutes(5) }), fn.metricThrottles({ period: Duration.minutes(5) }), asyncDropped],
          }),
          new cloudwatch.GraphWidget({
            title: 'Retry function: duration',
            width: 12,
            left: [fn.metricDuration({ statistic: 'p50' }), fn.metricDuration({ statistic: 'p99' })],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Queue depths (messages visible)',
            width: 24,
            left: [
              props.delayQueue.metricApproximateNumberOfMessagesVisible({
                label: 'delay queue (retries waiting)',
                period: Duration.minutes(5),
              }),
              ...Object.entries(props.deadLetterQueues).map(([name, q]) =>
                q.metricApproximateNumberOfMessagesVisible({ label: name, period: Duration.minutes(5), statistic: 'Maximum' }),
              ),
            ],
          }),
        ],
      ],
    });

    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string, periods = 1) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(new actions.SnsAction(props.topic));
      a.addOkAction(new actions.SnsAction(props.topic));
      this.alarms.push(a);
      return a;
    };
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name.replace(/[^A-Za-z0-9]/g, '')}NotEmpty`,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        1,
        `codepipeline-auto-retry: the ${name} holds messages: failures that were not handled. Inspect and redrive them.`,
      );
    }
    alarm(
      'FunctionErrors',
      fn.metricErrors({ period: Duration.minutes(5) }),
      1,
      'codepipeline-auto-retry: the retry function failed (faults are retried by Lambda).',
    );
    alarm('AsyncEventsDropped', asyncDropped, 1, 'codepipeline-auto-retry: Lambda dropped failure events.');
    alarm(
      'ClaimsStuck',
      product(MetricName.ClaimsStuck, 'Sum', props.reconcileEvery),
      1,
      'codepipeline-auto-retry: the reconciler found claims past their deadline in two runs in a row ' +
        '(instances dying, or delay messages lost, faster than they are moved on). See the function log for "reconciled".',
      2,
    );
    alarm(
      'RetriesExhausted',
      product(MetricName.RetriesExhausted, 'Sum', Duration.hours(1)),
      props.exhaustedPerHour,
      `codepipeline-auto-retry: ${props.exhaustedPerHour} or more stages ran out of retries within an hour.`,
    );
  }
}
