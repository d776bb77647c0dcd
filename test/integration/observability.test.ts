import { PowertoolsMetricsAdapter } from '../../lambda/adapters/powertools';
import { LogCapture, RecordingMetrics } from '../../local/local-aws';
import { runCli, useLocalAws } from '../support';

const aws = useLocalAws({ maxRetries: 1, cooldownSeconds: 0 });

/** Runs `work` with process.stdout captured, returns the JSON documents written. */
async function captureStdout(work: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const chunks: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await work();
  } finally {
    spy.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

type Emf = Record<string, unknown> & {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
};
const emf = (docs: Record<string, unknown>[]) => docs.filter((d): d is Emf => '_aws' in d);
const metricNames = (docs: Emf[]) => docs.flatMap((d) => d._aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name)));

describe('Observability: metrics, recovery and notifications', () => {
  it('writes EMF metrics with a Pipeline dimension only for configured pipelines', async () => {
    // Prepare
    const named = aws.pipeline('named');
    const unnamed = aws.pipeline('unnamed');
    const run = aws.handler({
      sink: new LogCapture().sink,
      metrics: new PowertoolsMetricsAdapter({ pipelineDimensions: new Set([named]) }),
    });
    aws.codepipeline.failNewExecution(named, 'Test', ['UnitTests']);
    aws.codepipeline.failNewExecution(unnamed, 'Approve', ['Review']);

    // Act
    const docs = emf(
      await captureStdout(async () => {
        await run(aws.codepipeline.stageFailedEvent(named, 'Test'));
        await run(aws.codepipeline.stageFailedEvent(unnamed, 'Approve'));
      }),
    );

    // Assess
    expect(metricNames(docs)).toEqual(['RetryAttempted', 'RetryAttempted', 'RetrySkipped', 'RetrySkipped']);
    const [total, perPipeline, skippedTotal, skippedPerPipeline] = docs;
    expect(total?._aws.CloudWatchMetrics[0]?.Namespace).toBe('CodePipelineAutoRetry');
    expect(total?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    expect(total).toEqual(
      expect.objectContaining({ service: 'codepipeline-auto-retry', RetryAttempted: 1, attempt: '1', pipeline: named }),
    );
    expect(perPipeline?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'Pipeline']]);
    expect(perPipeline).toEqual(expect.objectContaining({ Pipeline: named, RetryAttempted: 1 }));
    expect(skippedTotal?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'Reason']]);
    expect(skippedTotal).toEqual(expect.objectContaining({ Reason: 'approval-rejected', RetrySkipped: 1, pipeline: unnamed }));
    expect(skippedPerPipeline).toEqual(expect.objectContaining({ Pipeline: 'other', Reason: 'approval-rejected', RetrySkipped: 1 }));
  });

  it('records a retried-then-recovered stage in the ledger, counts it, and shows it in autoretry report', async () => {
    // Prepare
    const pipeline = aws.pipeline('recovers');
    const metrics = new RecordingMetrics();
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink, metrics });
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Succeeded');
    const success = aws.codepipeline.stageSucceededEvent(pipeline, 'Test');

    // Act
    await run(success);
    await run(structuredClone(success)); // a duplicate counts once

    // Assess
    const record = await aws.ledger().getRecord({ pipeline, stage: 'Test', executionId: execution });
    expect(record).toEqual(expect.objectContaining({ recoveredAfter: 1, recoveredAt: expect.any(String) }));
    expect(metrics.counts.filter((c) => c.name === 'RetryRecovered')).toEqual([
      expect.objectContaining({ pipeline, metadata: expect.objectContaining({ attempt: 1 }) }),
    ]);
    expect(logs.decisions().map((d) => d.decision)).toEqual(['retried', 'recovered']);
    const report = await runCli(['report', '--pipeline', pipeline, '--json'], {
      AWS_ENDPOINT_URL_DYNAMODB: aws.dynamo.endpoint,
      TABLE_NAME: aws.tableName,
    });
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout)).toEqual([
      expect.objectContaining({
        pipeline,
        stage: 'Test',
        failures: 1,
        retries: 1,
        recovered: 1,
        exhausted: 0,
        recoveryRate: 1,
        meanAttemptsToRecovery: 1,
      }),
    ]);
  });

  it('ignores a success that no retry of ours led to', async () => {
    // Prepare
    const pipeline = aws.pipeline('never-failed');
    const metrics = new RecordingMetrics();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', []);

    const before = new Map(aws.dynamo.requests);

    // Act
    await aws.handler({ sink: new LogCapture().sink, metrics })(aws.codepipeline.stageSucceededEvent(pipeline, 'Test'));

    // Assess: one consistent read of the ledger tells, and nothing is written.
    const delta = (op: string) => (aws.dynamo.requests.get(op) ?? 0) - (before.get(op) ?? 0);
    expect(delta('GetItem')).toBe(1);
    expect(delta('UpdateItem')).toBe(0);
    expect(metrics.counts).toEqual([]);
    expect(await aws.ledger().getRecord({ pipeline, stage: 'Test', executionId: execution })).toBeUndefined();
  });

  it('tells operators once when a stage runs out of retries, with what failed and a console link', async () => {
    // Prepare
    const pipeline = aws.pipeline('notify');
    const run = aws.handler({ sink: new LogCapture().sink });
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests'], { code: 'JobFailed', message: 'Build timed out' });
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed', { code: 'JobFailed', message: 'Build timed out again' });
    const exhausted = aws.codepipeline.stageFailedEvent(pipeline, 'Test');
    const before = aws.sns.published.length;

    // Act
    await run(exhausted);
    await run(structuredClone(exhausted));

    // Assess
    const sent = aws.sns.published.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.topicArn).toBe(aws.topicArn);
    expect(sent[0]?.subject).toBe(`auto-retry: ${pipeline}/Test retries exhausted`);
    const message = JSON.parse(sent[0]?.message ?? '{}') as { default: string; email: string; https: string };
    expect(message.email).toContain(`Execution:  ${execution}`);
    expect(message.email).toContain('Failure:    UnitTests: JobFailed — Build timed out again');
    expect(message.email).toContain(
      `https://us-east-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/${pipeline}/executions/${execution}/timeline?region=us-east-1`,
    );
    expect(JSON.parse(message.https)).toEqual(expect.objectContaining({ version: '1.0', source: 'custom' }));
  });

  it.each([
    [
      'a failure a never-retry rule filters out',
      { neverRetryOn: [{ message: 'AccessDenied' }] },
      'AccessDenied',
      undefined,
      'not retryable',
    ],
    ['a retry refused for good', {}, 'timed out', 'ValidationException', 'retry failed permanently'],
    ['a retry refused as not retryable', {}, 'timed out', 'StageNotRetryableException', 'not retryable'],
  ])('notifies on %s', async (_case, policy, message, exception, kind) => {
    // Prepare
    const pipeline = aws.pipeline('notify');
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, policy, 'test', new Date());
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests'], { message });
    if (exception) aws.codepipeline.injectFault('RetryStageExecution', { kind: 'exception', name: exception });
    const before = aws.sns.published.length;

    // Act
    await aws.handler({ sink: new LogCapture().sink })(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    expect(aws.sns.published.slice(before).map((p) => p.subject)).toEqual([`auto-retry: ${pipeline}/Test ${kind}`]);
  });
});
