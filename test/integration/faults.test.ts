import { ClaimStatus } from '../../lambda/domain/ledger';
import type { Fault } from '../../local/codepipeline/emulator';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { LogCapture, ManualClock, standardPipeline } from '../../local/local-aws';
import { ledgerKey, useLocalAws } from '../support';

/**
 * The faults the real service has, played through the real handler: answers lost after a retry
 * took effect, dropped connections, throttling, a delay queue that is down, odd attempt numbers,
 * and policies changed while a retry waits.
 */
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0, retryMode: 'FAILED_ACTIONS' });

beforeEach(() => {
  aws.sqs.reset();
  aws.sqs.now = () => Date.now();
  aws.codepipeline.now = () => Date.now();
  aws.codepipeline.retryWhileRunning = 'conflict';
});

/** A simulated Lambda on a manual clock, the emulators following it. */
function lambdaOn(clock = new ManualClock(Date.now())) {
  return { clock, lambda: new LambdaSimulator(aws, clock, { instances: 4 }) };
}

describe('Faults: an answer lost after RetryStageExecution took effect', () => {
  it.each<[string, Fault, 'conflict' | 'not-retryable']>([
    ['a 500 after acceptance', { kind: 'accepted-then-500' }, 'conflict'],
    ['a connection cut after acceptance', { kind: 'accepted-then-reset' }, 'conflict'],
    ['a 500 after acceptance, a second retry meeting NotRetryable', { kind: 'accepted-then-500' }, 'not-retryable'],
  ])('makes exactly one accepted retry over the execution with maxRetries 1 on %s', async (_case, fault, second) => {
    // Prepare
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { maxRetries: 1 }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.retryWhileRunning = second;
    aws.codepipeline.injectFault('RetryStageExecution', fault);
    const { clock, lambda } = lambdaOn();
    const notificationsBefore = aws.sns.published.length;

    // Act: the retry runs and fails again; its event arrives; everything settles.
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)[0]?.lostReply).toBeDefined();
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims).toEqual([expect.objectContaining({ occurrence: 1, status: ClaimStatus.Retried })]);
    expect(record?.skips).toEqual([expect.objectContaining({ occurrence: 2, reason: 'max-retries' })]);
    expect(result.lost).toEqual([]);
    const notices = aws.sns.published.slice(notificationsBefore).map((n) => n.subject);
    expect(notices.some((s) => s?.includes('not retryable'))).toBe(false);
  });

  it('settles later when the live state cannot be read right after an unclear answer, still exactly once', async () => {
    // Prepare: the retry is accepted, its answer lost, and the state read after it throttled.
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { maxRetries: 1 }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.injectFault('RetryStageExecution', { kind: 'accepted-then-500' });
    // GetPipelineState is read once to decide, then after the unclear answer: that read is throttled (twice, the SDK's two attempts).
    aws.codepipeline.injectFault('GetPipelineState', { kind: 'throttle' }, 2, 1);
    const { clock, lambda } = lambdaOn();

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, uncertain: true })]);
    expect(record?.retries).toBe(1);
    expect(result.lost).toEqual([]);
    expect(lambda.logs.decisions().map((d) => d.decision)).toEqual(['rescheduled', 'retried']);
  });

  it('calls again, once, after a connection dropped before the call was read', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.injectFault('RetryStageExecution', { kind: 'reset' });
    const { clock, lambda } = lambdaOn();

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    const calls = aws.codepipeline.calls.filter((c) => c.operation === 'RetryStageExecution' && c.input.pipelineName === pipeline);
    expect(calls.map((c) => c.status)).toEqual([0, 200]);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, busyCount: 1 })]);
    expect(result.lost).toEqual([]);
  });
});

describe('Faults: nothing lost when the next step fails', () => {
  it('retries once after the outage when CodePipeline is busy and the delay queue is down', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.injectFault('RetryStageExecution', { kind: 'exception', name: 'ConflictException' });
    const { clock, lambda } = lambdaOn();
    aws.sqs.failNextSends = 3; // the first delivery's attempts at the queue all fail

    // Act: Lambda retries the event after a minute; the queue is back by then.
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(result.faults).toBeGreaterThan(0);
    expect(result.lost).toEqual([]);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
  });

  it('waits through the delay queue when CodePipeline throttles the first read, spending none of Lambda’s retries', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.injectFault('GetPipelineState', { kind: 'throttle' }, 2);
    const { clock, lambda } = lambdaOn();

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(result.faults).toBe(0);
    expect(aws.sqs.sent.length).toBeGreaterThan(0);
    expect(JSON.parse(aws.sqs.sent[0]?.body ?? '{}')).toEqual(expect.objectContaining({ kind: 'event', deferrals: 1 }));
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

describe('Faults: the attempt number events carry', () => {
  it.each<[string, unknown]>([
    ['0', 0],
    ['null', null],
    ['the string "1"', '1'],
    ['absent', undefined],
  ])('retries an event whose pipeline-execution-attempt is %s', async (_case, value) => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test') as { detail: Record<string, unknown> };
    if (value === undefined) delete event.detail['pipeline-execution-attempt'];
    else event.detail['pipeline-execution-attempt'] = value;

    // Act
    await aws.handler({ sink: new LogCapture().sink })(event);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });

  it('retries twice when two failures of an execution come without the attempt number, and once per duplicate', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const run = aws.handler({ sink: new LogCapture().sink });
    const withoutAttempt = () => {
      const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test') as { detail: Record<string, unknown> };
      delete event.detail['pipeline-execution-attempt'];
      return event;
    };

    // Act
    const first = withoutAttempt();
    await run(first);
    await run(structuredClone(first));
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await run(withoutAttempt());

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.retries).toBe(2);
    expect(new Set(record?.claims.map((c) => c.occurrence)).size).toBe(2);
  });
});

describe('Faults: policies and pipelines that change while a retry waits', () => {
  it.each([
    ['maxRetries lowered to 0', { maxRetries: 0 }, 'retries-disabled'],
    ['a neverRetryOn rule added', { neverRetryOn: [{ code: ['JobFailed'] }] }, 'never-retry-rule'],
  ])('does not make a waiting retry when %s during its cooldown', async (_case, change, reason) => {
    // Prepare
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 300, jitter: 'none' }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const { clock, lambda } = lambdaOn();
    const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now });
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));

    // Act: the operator changes the policy while the retry waits; then it comes due.
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, change, 'alice', new Date());
    await lambda.run([]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Abandoned, outcome: reason })]);
    expect(record?.retries).toBe(0);
  });

  it('leaves a stage whose onFailure is ROLLBACK alone, and says why', async () => {
    // Prepare
    const pipeline = `rollback-${Date.now()}`;
    const base = standardPipeline(pipeline);
    aws.codepipeline.createPipeline({
      ...base,
      stages: base.stages.map((s) => (s.name === 'Deploy' ? { ...s, onFailure: { result: 'ROLLBACK' as const } } : s)),
    });
    aws.codepipeline.failNewExecution(pipeline, 'Deploy', ['ExecuteChangeSet']);
    const logs = new LogCapture();

    // Act
    await aws.handler({ sink: logs.sink })(aws.codepipeline.stageFailedEvent(pipeline, 'Deploy'));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(String(logs.decisions()[0]?.reason)).toMatch(/^rollback-configured/);
  });

  it('applies the policy once the stage’s own retry has not come within the wait', async () => {
    // Prepare: onFailure RETRY whose conditions are never met, so CodePipeline never retries.
    const pipeline = `conditional-${Date.now()}`;
    const base = standardPipeline(pipeline);
    aws.codepipeline.createPipeline({
      ...base,
      stages: base.stages.map((s) => (s.name === 'Test' ? { ...s, onFailure: { result: 'RETRY' as const, conditions: true } } : s)),
    });
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const { clock, lambda } = lambdaOn();
    const failedAt = clock.current;

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess: nothing until the wait (5 minutes) is over, then the policy's retry.
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((aws.codepipeline.acceptedRetries(pipeline)[0]?.at ?? 0) - failedAt).toBeGreaterThanOrEqual(300_000);
    expect(lambda.logs.decisions().map((d) => String(d.reason).split(':')[0])).toEqual(expect.arrayContaining(['native-retry-pending']));
    expect(result.lost).toEqual([]);
  });

  it('retries a failed execution in PARALLEL mode while a newer execution runs the same stage', async () => {
    // Prepare
    const pipeline = `parallel-${Date.now()}`;
    aws.codepipeline.createPipeline({ ...standardPipeline(pipeline), executionMode: 'PARALLEL' });
    const older = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test');
    const newer = aws.codepipeline.failNewExecution(pipeline, 'Test', ['IntegrationTests']);
    aws.codepipeline.setStage(pipeline, 'Test', newer, 'InProgress', { IntegrationTests: 'InProgress' });

    // Act
    await aws.handler({ sink: new LogCapture().sink })(event);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline).map((c) => c.input.pipelineExecutionId)).toEqual([older]);
    expect(aws.codepipeline.calls.map((c) => c.operation)).toEqual(
      expect.arrayContaining(['GetPipelineExecution', 'ListActionExecutions']),
    );
  });

  it('retries a stopped stage when the policy overrides the built-in rule, as the service allows', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { overrideBuiltIns: ['stage-stopped'] }, 'test', new Date());
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.setStage(pipeline, 'Test', execution, 'Stopped', { UnitTests: 'Abandoned' });

    // Act
    await aws.handler({ sink: new LogCapture().sink })(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

describe('Faults: every give-up tells someone', () => {
  it('notifies and counts when CodePipeline stays busy until the claim gives up', async () => {
    // Prepare
    const pipeline = aws.pipeline();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.injectFault('RetryStageExecution', { kind: 'exception', name: 'ConflictException' }, 11);
    const { clock, lambda } = lambdaOn();
    const before = aws.sns.published.length;

    // Act
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const notices = aws.sns.published.slice(before).filter((n) => n.subject?.includes(pipeline));
    expect(notices.map((n) => n.subject)).toEqual([expect.stringContaining('gave up retrying')]);
    expect(lambda.logs.decisions().at(-1)).toEqual(
      expect.objectContaining({ decision: 'abandoned', reason: expect.stringMatching(/^busy-too-long/) }),
    );
  });
});
