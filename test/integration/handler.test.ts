import type { SQSBatchResponse } from 'aws-lambda';
import { OPEN_CLAIMS_INDEX, TableKeys } from '../../contract';
import { depsFromEnvironment } from '../../lambda/dependencies';
import { TransientFaultError } from '../../lambda/domain/errors';
import { ClaimStatus } from '../../lambda/domain/ledger';
import { handler } from '../../lambda/handler';
import { LogCapture, ManualClock, RecordingMetrics } from '../../local/local-aws';
import { RetryMode } from '../../policy/policy';
import { ledgerKey, loadEvent, useLocalAws } from '../support';
import { ledgerWith, pipelinesWith } from '../support/fakes';

// Tests share the table; each uses its own pipeline names and sets its own pipeline policy.
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0, retryMode: RetryMode.FailedActions });

beforeEach(() => {
  aws.sqs.reset();
});

describe('handler: EventBridge stage FAILED events', () => {
  it('retries a failed test stage at once when the policy has no cooldown', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests'], { message: 'timed out' });
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink });

    // Act
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    const retries = aws.codepipeline.acceptedRetries(pipeline);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.input).toEqual({
      pipelineName: pipeline,
      stageName: 'Test',
      pipelineExecutionId: execution,
      retryMode: 'FAILED_ACTIONS',
    });
    expect(aws.codepipeline.stageStatus(pipeline, 'Test').status).toBe('InProgress');
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.retries).toBe(1);
    expect(record?.claims).toEqual([expect.objectContaining({ occurrence: 1, attempt: 1, status: ClaimStatus.Retried })]);
    expect(logs.decisions()).toEqual([
      expect.objectContaining({ pipeline, stage: 'Test', executionId: execution, attempt: 1, decision: 'retried', level: 'info' }),
    ]);
  });

  it('works through the exported handler with nothing but the environment', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['IntegrationTests']);
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);

    // Act
    let written: string[] = [];
    try {
      await handler(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
    } finally {
      written = write.mock.calls.map(([chunk]) => String(chunk));
      write.mockRestore();
    }

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const lines = written.map((chunk) => JSON.parse(chunk) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ message: 'decision', pipeline, decision: 'retried', attempt: 1 }));
  });

  it('makes exactly one retry when the same event arrives 10 times at once', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test');
    const logs = new LogCapture();
    // Ten instances, each with its own clients, as ten Lambda sandboxes would have.
    const instances = Array.from({ length: 10 }, () => aws.handler({ sink: logs.sink }));

    // Act
    await Promise.all(instances.map((run) => run(structuredClone(event))));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.retries).toBe(1);
    const outcomes = logs.decisions().map((d) => d.decision);
    expect(outcomes.filter((o) => o === 'retried')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'skipped' || o === 'deferred')).toHaveLength(9);
  });

  it('stops after maxRetries retries of one stage execution and says why', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { maxRetries: 2 }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink });

    // Act: the stage keeps failing after each retry.
    for (let failure = 1; failure <= 3; failure++) {
      await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
      if (failure < 3) aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    }
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.retries).toBe(2);
    expect(record?.claims.map((c) => [c.occurrence, c.attempt, c.status])).toEqual([
      [1, 1, 'retried'],
      [2, 2, 'retried'],
    ]);
    expect(record?.skips).toEqual([expect.objectContaining({ occurrence: 3, reason: 'max-retries' })]);
    expect(logs.decisions().map((d) => d.decision)).toEqual(['retried', 'retried', 'skipped', 'skipped']);
    expect(String(logs.decisions()[2]?.reason)).toMatch(/^max-retries/);
  });

  it('leaves a failure alone when a newer execution of the stage has failed since', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const staleEvent = aws.codepipeline.stageFailedEvent(pipeline, 'Test');
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(staleEvent);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(logs.decisions()).toEqual([expect.objectContaining({ decision: 'skipped', reason: expect.stringMatching(/^superseded/) })]);
  });

  it.each([
    ['the stage is running again (retried by hand)', 'InProgress', { UnitTests: 'InProgress' }, 'stage-in-progress'],
    ['an action of the failed stage still runs', 'Failed', { UnitTests: 'Failed', IntegrationTests: 'InProgress' }, 'action-in-progress'],
    ['an operator stopped the stage', 'Stopped', { UnitTests: 'Abandoned' }, 'stage-stopped'],
    ['the stage succeeded meanwhile', 'Succeeded', { UnitTests: 'Succeeded' }, 'stage-not-failed'],
  ] as const)('does not retry when %s', async (_case, status, actions, reason) => {
    // Prepare
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test');
    aws.codepipeline.setStage(pipeline, 'Test', execution, status, actions);
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(event);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(String(logs.decisions()[0]?.reason)).toMatch(new RegExp(`^${reason}`));
  });

  it('does not retry a paused pipeline, and retries again once resumed', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    await aws.policies().pause(pipeline, { updatedBy: 'test', now: new Date() });
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink });

    // Act
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
    const whilePaused = aws.codepipeline.acceptedRetries(pipeline).length;
    await aws.policies().resume(pipeline);
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    expect(whilePaused).toBe(0);
    expect(String(logs.decisions()[0]?.reason)).toMatch(/^paused/);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });

  it('applies a stage override over the pipeline policy', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    const store = aws.policies();
    await store.setPolicy({ kind: 'pipeline', pipeline }, { maxRetries: 1, retryMode: RetryMode.FailedActions }, 'test', new Date());
    await store.setPolicy(
      { kind: 'stage', pipeline, stage: 'Deploy' },
      { maxRetries: 3, retryMode: RetryMode.AllActions },
      'test',
      new Date(),
    );
    const deployExecution = aws.codepipeline.failNewExecution(pipeline, 'Deploy', ['ExecuteChangeSet']);
    const run = aws.handler({ sink: new LogCapture().sink });

    // Act: Deploy fails four times in one execution.
    for (let i = 0; i < 4; i++) {
      await run(aws.codepipeline.stageFailedEvent(pipeline, 'Deploy'));
      if (aws.codepipeline.stageStatus(pipeline, 'Deploy').status === 'InProgress')
        aws.codepipeline.finishRetry(pipeline, 'Deploy', 'Failed');
    }
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    const deployRetries = aws.codepipeline.acceptedRetries(pipeline).filter((c) => c.input.stageName === 'Deploy');
    expect(deployRetries).toHaveLength(3);
    expect(deployRetries.every((c) => c.input.retryMode === 'ALL_ACTIONS' && c.input.pipelineExecutionId === deployExecution)).toBe(true);
    const testRetries = aws.codepipeline.acceptedRetries(pipeline).filter((c) => c.input.stageName === 'Test');
    expect(testRetries.map((c) => c.input.retryMode)).toEqual(['FAILED_ACTIONS']);
  });

  it('decides, logs and records but never retries in observe-only mode', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { mode: 'observe' }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(logs.decisions()).toEqual([
      expect.objectContaining({ decision: 'observed', reason: expect.stringMatching(/^observe-only: would retry FAILED_ACTIONS now/) }),
    ]);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.skips).toEqual([expect.objectContaining({ reason: 'observe-only' })]);
    expect(record?.retries).toBe(0);
  });

  it('never retries a rejected manual approval', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Approve', ['Review']);
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(aws.codepipeline.stageFailedEvent(pipeline, 'Approve'));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(logs.decisions()).toEqual([
      expect.objectContaining({ decision: 'skipped', reason: expect.stringMatching(/^approval-rejected/) }),
    ]);
  });

  it('skips a failure from before the pipeline structure changed', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test');
    aws.codepipeline.updatePipeline(pipeline);
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(event);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(String(logs.decisions()[0]?.reason)).toMatch(/^pipeline-changed/);
  });

  it('skips an event for a pipeline that no longer exists', async () => {
    // Prepare
    const event = loadEvent('stage-failed');
    event.detail.pipeline = 'deleted-pipeline';
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(event);

    // Assess
    expect(String(logs.decisions()[0]?.reason)).toMatch(/^pipeline-not-found/);
    expect(
      aws.codepipeline.calls.filter((c) => c.operation === 'RetryStageExecution' && c.input.pipelineName === 'deleted-pipeline'),
    ).toHaveLength(0);
  });
});

describe('handler: what a retry costs in ledger requests', () => {
  it.each([
    ['an immediate retry: the claim, and its outcome', 0, 2],
    ['a delayed retry: the claim, taking it when due, and its outcome', 60, 3],
  ])(
    'writes the ledger only for %s (the outcome also leaves the open-claims index), and never reads it',
    async (_case, cooldown, writes) => {
      // Prepare: a warm instance (the structure cache filled by an earlier failure of the pipeline).
      const clock = new ManualClock(Date.now());
      aws.sqs.now = () => clock.current;
      const pipeline = aws.pipeline();
      await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: cooldown, jitter: 'none' }, 'test', new Date());
      const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now });
      aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
      const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      const before = new Map(aws.dynamo.requests);

      // Act: the failure's event, and when the cooldown is over, its delay message.
      await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
      clock.advance(cooldown);
      const due = aws.sqs.takeVisible();
      if (due) await run({ Records: due.Records.filter((r) => r.body.includes(execution)) });
      aws.sqs.now = () => Date.now();

      // Assess
      const delta = (op: string) => (aws.dynamo.requests.get(op) ?? 0) - (before.get(op) ?? 0);
      expect(aws.codepipeline.acceptedRetries(pipeline).filter((c) => c.input.pipelineExecutionId === execution)).toHaveLength(1);
      expect(delta('UpdateItem')).toBe(writes);
      expect(delta('GetItem')).toBe(0);
      const indexed = await aws.table().queryIndex(OPEN_CLAIMS_INDEX, OPEN_CLAIMS_INDEX.shard, '9999', 1000);
      expect(indexed.filter((k) => k.sk.endsWith(execution))).toEqual([]);
    },
  );
});

describe('handler: cooldowns through the delay queue', () => {
  it('retries after a short cooldown, when the delay queue delivers the message', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 2 }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const clock = new ManualClock(Date.now());
    aws.sqs.now = () => clock.current;
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink, clock: clock.now });

    // Act
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
    const retriesBeforeDue = aws.codepipeline.acceptedRetries(pipeline).length;
    const immediatelyVisible = aws.sqs.takeVisible();
    clock.advance(2);
    const batch = aws.sqs.takeVisible();
    const response = batch ? ((await run(batch)) as SQSBatchResponse) : undefined;
    aws.sqs.now = () => Date.now();

    // Assess
    expect(retriesBeforeDue).toBe(0);
    expect(immediatelyVisible).toBeUndefined();
    expect(aws.sqs.sent).toHaveLength(1);
    expect(aws.sqs.sent[0]?.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(aws.sqs.sent[0]?.delaySeconds).toBeLessThanOrEqual(2);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims[0]?.status).toBe(ClaimStatus.Retried);
    expect(logs.decisions().map((d) => d.decision)).toEqual(['scheduled', 'retried']);
  });

  it('chains a two-hour cooldown through 900-second delays and retries only when it is due', async () => {
    // Prepare
    const clock = new ManualClock(Date.now());
    aws.sqs.now = () => clock.current;
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 7200 }, 'test', new Date());
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now });
    const failedAt = clock.current;

    // Act
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', new Date(failedAt)));
    const retriedAt: number[] = [];
    for (let hop = 0; hop < 12 && aws.codepipeline.acceptedRetries(pipeline).length === 0; hop++) {
      clock.advance(900);
      const batch = aws.sqs.takeVisible();
      if (batch) await run(batch);
      if (aws.codepipeline.acceptedRetries(pipeline).length > 0) retriedAt.push(clock.current);
    }
    aws.sqs.now = () => Date.now();

    // Assess
    expect(aws.sqs.sent.map((m) => m.delaySeconds)).toEqual([900, 900, 900, 900, 900, 900, 900, 900]);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(retriedAt[0]).toBe(failedAt + 7200 * 1000);
  });

  it('drops a delayed retry when the stage was retried by hand during the cooldown', async () => {
    // Prepare
    const clock = new ManualClock(Date.now());
    aws.sqs.now = () => clock.current;
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 300 }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink, clock: clock.now });
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', new Date(clock.current)));

    // Act: an operator retries by hand and it fails again; then the delayed message comes due.
    aws.codepipeline.setStage(pipeline, 'Test', execution, 'InProgress', { UnitTests: 'InProgress' });
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    clock.advance(300);
    const batch = aws.sqs.takeVisible();
    const response = batch ? await run(batch) : undefined;
    aws.sqs.now = () => Date.now();

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims[0]).toEqual(expect.objectContaining({ status: ClaimStatus.Abandoned, outcome: 'stage-changed' }));
    expect(record?.retries).toBe(0);
  });

  it('hands a garbled delay-queue message back for the DLQ with a clear log line', async () => {
    // Prepare
    const logs = new LogCapture();
    const record = {
      messageId: 'garbled-1',
      receiptHandle: 'rh',
      body: '{"v":1,"failure":{"pipeline":42}}',
      attributes: {},
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: aws.sqs.queueArn,
      awsRegion: 'us-east-1',
    };

    // Act
    const response = await aws.handler({ sink: logs.sink })({ Records: [record] });

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'garbled-1' }] });
    expect(logs.lines).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'malformed delay-queue message: left for the DLQ', messageId: 'garbled-1' }),
    );
  });
});

describe('handler: every RetryStageExecution outcome', () => {
  it.each([
    ['StageNotRetryableException', ClaimStatus.Abandoned, 'not-retryable', 0],
    ['NotLatestPipelineExecutionException', ClaimStatus.Abandoned, 'superseded', 0],
    ['PipelineNotFoundException', ClaimStatus.Failed, 'failed', 0],
    ['StageNotFoundException', ClaimStatus.Failed, 'failed', 0],
    ['ValidationException', ClaimStatus.Failed, 'failed', 0],
  ] as const)('records %s without throwing and gives the retry slot back', async (exception, status, outcome, retries) => {
    // Prepare
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.injectFault('RetryStageExecution', { kind: 'exception', name: exception });
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims[0]).toEqual(expect.objectContaining({ status, outcome }));
    expect(record?.retries).toBe(retries);
    expect(String(logs.decisions()[0]?.reason)).toContain(exception);
    expect(aws.sqs.sent).toHaveLength(0);
  });

  it.each(['ConflictException', 'ConcurrentPipelineExecutionsLimitExceededException'])(
    'tries again later through the delay queue on %s, then retries',
    async (exception) => {
      // Prepare
      const clock = new ManualClock(Date.now());
      aws.sqs.now = () => clock.current;
      const pipeline = aws.pipeline();
      const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.codepipeline.injectFault('RetryStageExecution', { kind: 'exception', name: exception });
      const logs = new LogCapture();
      const run = aws.handler({ sink: logs.sink, clock: clock.now });

      // Act
      await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', new Date(clock.current)));
      const afterBusy = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
      clock.advance(60);
      const batch = aws.sqs.takeVisible();
      if (batch) await run(batch);
      aws.sqs.now = () => Date.now();

      // Assess
      expect(afterBusy?.claims[0]).toEqual(expect.objectContaining({ status: ClaimStatus.Scheduled, busyCount: 1 }));
      expect(aws.sqs.sent.map((m) => m.delaySeconds)).toEqual([60]);
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
      expect(logs.decisions().map((d) => d.decision)).toEqual(['rescheduled', 'retried']);
    },
  );

  it.each([
    ['throttling', { kind: 'throttle' } as const, 'rescheduled'],
    ['a 5xx error that did not take effect', { kind: 'server-error' } as const, 'rescheduled'],
  ])('makes one RetryStageExecution call on %s, never a blind resend, and retries once from the queue', async (_case, fault, first) => {
    // Prepare
    const clock = new ManualClock(Date.now());
    aws.sqs.now = () => clock.current;
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', new Date(clock.current));
    aws.codepipeline.injectFault('RetryStageExecution', fault);
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink, clock: clock.now });

    // Act
    await run(event);
    const callsAfterFirst = aws.codepipeline.calls.filter(
      (c) => c.operation === 'RetryStageExecution' && c.input.pipelineName === pipeline,
    );
    clock.advance(300);
    const batch = aws.sqs.takeVisible();
    if (batch) await run(batch);
    await run(event); // and a late duplicate changes nothing.
    aws.sqs.now = () => Date.now();

    // Assess
    expect(callsAfterFirst).toHaveLength(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.retries).toBe(1);
    expect(record?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, attempt: 1 })]);
    expect(logs.decisions().map((d) => d.decision)).toEqual([first, 'retried', 'skipped']);
  });

  it('keeps counting a retry whose outcome was never recorded, so a crash cannot buy an extra retry', async () => {
    // Prepare: the retry call succeeds, then recording its outcome fails (the instance "crashes").
    const clock = new ManualClock(Date.now());
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { maxRetries: 1 }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', new Date(clock.current));
    const ledger = aws.ledgerStore();
    let failFinish = true;
    const flakyLedger = ledgerWith(ledger, {
      finish: async (k, c, f) => {
        if (failFinish) {
          failFinish = false;
          throw new TransientFaultError('DynamoDB went away');
        }
        return ledger.finish(k, c, f);
      },
    });
    const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now, ledger: flakyLedger });
    await expect(run(event)).rejects.toBeInstanceOf(TransientFaultError);

    // Act: Lambda redelivers after the lease; later the retried stage fails again, and the delay queue delivers what it holds.
    clock.advance(180);
    await run(event);
    const afterRedelivery = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', new Date(clock.current)));
    aws.sqs.now = () => clock.current;
    for (let hop = 0; hop < 10 && aws.sqs.pending().length > 0; hop++) {
      clock.current = Math.max(clock.current, ...aws.sqs.pending().map((m) => m.visibleAt));
      const batch = aws.sqs.takeVisible();
      if (batch) await run(batch);
    }
    aws.sqs.now = () => Date.now();

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.retries).toBe(1);
    // The redelivery sees the stage running again and writes nothing: the dead holder's claim
    // stays as it was, its slot counted.
    expect(afterRedelivery?.claims).toEqual([expect.objectContaining({ occurrence: 1, attempt: 1, status: ClaimStatus.Retrying })]);
    // The next failure finds the slot held by that claim, wakes it (the live state shows its retry
    // took effect: it is confirmed), and then finds no retry left.
    expect(record?.claims).toEqual([expect.objectContaining({ occurrence: 1, attempt: 1, status: ClaimStatus.Retried })]);
    expect(record?.skips).toEqual([expect.objectContaining({ occurrence: 2, reason: 'max-retries' })]);
  });

  it('checks back through the queue, instead of dropping it, when a redelivery finds the claim still held', async () => {
    // Prepare: the first instance dies right before its RetryStageExecution call, holding the claim.
    const clock = new ManualClock(Date.now());
    aws.sqs.now = () => clock.current;
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', new Date(clock.current));
    const dying = aws.handler({
      sink: new LogCapture().sink,
      clock: clock.now,
      pipelines: pipelinesWith(depsFromEnvironment().pipelines, {
        retryStage: async () => {
          throw new Error('instance died');
        },
      }),
    });
    await expect(dying(event)).rejects.toThrow('instance died');
    const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now });

    // Act: the event comes back while the (crashed) holder's lease still runs.
    clock.advance(30);
    await run(event);
    const retriesWhileHeld = aws.codepipeline.acceptedRetries(pipeline).length;
    clock.advance(120);
    const batch = aws.sqs.takeVisible();
    if (batch) await run(batch);
    aws.sqs.now = () => Date.now();

    // Assess
    expect(retriesWhileHeld).toBe(0);
    expect(aws.sqs.sent).toHaveLength(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

describe('handler: bad input and faults', () => {
  const mutations: [string, (e: ReturnType<typeof loadEvent>) => unknown][] = [
    ['a string instead of an event', () => 'not an event'],
    ['null', () => null],
    ['an event without detail', (e) => ({ ...e, detail: undefined })],
    ['an event from another source', (e) => ({ ...e, source: 'aws.codebuild' })],
    ['a STARTED event', (e) => ({ ...e, detail: { ...e.detail, state: 'STARTED' } })],
    ['an action event', (e) => ({ ...e, 'detail-type': 'CodePipeline Action Execution State Change' })],
    ['a pipeline name with a slash', (e) => ({ ...e, detail: { ...e.detail, pipeline: 'web/app' } })],
    ['a numeric stage', (e) => ({ ...e, detail: { ...e.detail, stage: 7 } })],
    ['a missing execution id', (e) => ({ ...e, detail: { ...e.detail, 'execution-id': undefined } })],
    ['an attempt of 1.5', (e) => ({ ...e, detail: { ...e.detail, 'pipeline-execution-attempt': 1.5 } })],
    ['a bad time', (e) => ({ ...e, time: 'yesterday' })],
    ['a 10 kB stage name', (e) => ({ ...e, detail: { ...e.detail, stage: 'x'.repeat(10_000) } })],
  ];

  it.each(mutations)('logs one error and never retries on %s', async (_case, mutate) => {
    // Prepare
    const input = mutate(loadEvent('stage-failed'));
    const logs = new LogCapture();
    const callsBefore = aws.codepipeline.calls.length;

    // Act
    const result = await aws.handler({ sink: logs.sink })(input);

    // Assess
    expect(result).toBeUndefined();
    expect(logs.lines).toHaveLength(1);
    expect(logs.lines[0]).toEqual(expect.objectContaining({ level: 'error', message: expect.stringMatching(/^malformed/) }));
    expect(aws.codepipeline.calls.length).toBe(callsBefore);
  });

  it.each([
    ['JavaScript’s latest date', '+275760-09-13T00:00:00.000Z'],
    ['the year 9999', '9999-12-31T23:59:59Z'],
  ])('takes an event time of %s as now: retried, never a fault or a claim due in another century', async (_case, time) => {
    // Prepare
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = { ...aws.codepipeline.stageFailedEvent(pipeline, 'Test'), time };
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(event);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(Date.parse(record?.firstFailureAt ?? '')).toBeLessThan(Date.now() + 60_000);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'event time lies ahead of our clock: taken as now' }),
    );
  });

  it.each<[string, (body: Record<string, unknown>) => void]>([
    [
      'due in the year 9999',
      (b) => {
        b.dueAt = '9999-01-01T00:00:00.000Z';
      },
    ],
    [
      'a region that would send operators elsewhere',
      (b) => {
        (b.failure as Record<string, unknown>).region = 'evil.example.com/#';
      },
    ],
    [
      'an account that is not one',
      (b) => {
        (b.failure as Record<string, unknown>).account = '12345';
      },
    ],
  ])('leaves a forged delay-queue message %s for the DLQ: no retry, no re-chaining', async (_case, forge) => {
    // Prepare: a well-formed claim message for a real failure, then forged.
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test') as { id: string; time: string; detail: Record<string, unknown> };
    const body: Record<string, unknown> = {
      v: 1,
      kind: 'claim',
      dueAt: new Date().toISOString(),
      failure: {
        eventId: event.id,
        account: '123456789012',
        region: 'us-east-1',
        pipeline,
        stage: 'Test',
        executionId: event.detail['execution-id'],
        occurrence: 1,
        pipelineVersion: 1,
        failedAt: new Date().toISOString(),
      },
    };
    forge(body);
    const record = { messageId: 'forged-1', body: JSON.stringify(body), eventSource: 'aws:sqs', attributes: {}, messageAttributes: {} };
    const logs = new LogCapture();

    // Act
    const response = await aws.handler({ sink: logs.sink })({ Records: [record] });

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'forged-1' }] });
    expect(aws.sqs.sent).toHaveLength(0);
    expect(aws.codepipeline.calls.filter((c) => c.input.pipelineName === pipeline || c.input.name === pipeline)).toHaveLength(0);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'malformed delay-queue message: left for the DLQ' }),
    );
  });

  it('gives a catastrophic regular expression written straight into the table a time limit, instead of hanging', async () => {
    // Prepare: an item the CLI would have refused, and long build output on which it backtracks.
    const pipeline = aws.pipeline();
    await aws.table().put({ ...TableKeys.pipelinePolicy(pipeline), pipeline, neverRetryOn: [{ message: '(a+)+$' }], source: 'cli' });
    const output = `${'a'.repeat(40)}!${' more build output'.repeat(3000)}`;
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests'], { message: output });
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess: the never-retry rule could not be told in time, which leans to no retry.
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(logs.decisions()).toEqual([
      expect.objectContaining({ decision: 'skipped', reason: expect.stringContaining('could not be tested in time') }),
    ]);
  });

  it('counts unreadable input as a metric, an event and a queue message alike', async () => {
    // Prepare
    const metrics = new RecordingMetrics();
    const run = aws.handler({ sink: new LogCapture().sink, metrics });
    const garbled = { messageId: 'm-1', body: 'not json', eventSource: 'aws:sqs', attributes: {}, messageAttributes: {} };

    // Act
    await run({ ...loadEvent('stage-failed'), time: 'yesterday' });
    await run({ Records: [garbled] });

    // Assess
    expect(metrics.counts.map((c) => [c.name, c.metadata.source])).toEqual([
      ['MalformedInput', 'event'],
      ['MalformedInput', 'queue'],
    ]);
  });

  it('throws before any retry call when DynamoDB is unreachable', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = 'http://127.0.0.1:9'; // discard port: nothing listens
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink });

    // Act
    let outcome: unknown;
    try {
      await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
    } catch (error) {
      outcome = error;
    } finally {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = saved;
    }

    // Assess
    expect(outcome).toBeInstanceOf(TransientFaultError);
    expect(aws.codepipeline.calls.filter((c) => c.operation === 'RetryStageExecution' && c.input.pipelineName === pipeline)).toHaveLength(
      0,
    );
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'error', message: expect.stringMatching(/^fault/), pipeline }));
  });

  it('gives the slot back and throws when the delay queue cannot take a scheduled retry', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 60 }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test');
    aws.sqs.failNextSends = 10;
    const run = aws.handler({ sink: new LogCapture().sink });

    // Act
    const outcome = await run(event).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    aws.sqs.failNextSends = 0;
    const afterFault = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    await run(event);

    // Assess
    expect(outcome).toBeInstanceOf(TransientFaultError);
    expect(afterFault?.claims ?? []).toHaveLength(0);
    expect(aws.sqs.sent).toHaveLength(1);
  });
});
