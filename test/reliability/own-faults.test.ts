import type { SQSBatchResponse } from 'aws-lambda';
import { ClaimStatus } from '../../lambda/domain/ledger';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { LogCapture, ManualClock } from '../../local/local-aws';
import { ledgerKey, runHandlerProcess, scheduledEvent, sqsRecord, updateContaining, useLocalAws, useOwnFaults } from '../support';

/**
 * The faults of our own writes and of our own process, through the real handler and SDK
 * clients: a DynamoDB or SQS call that took effect but whose answer was lost (the SDK resends
 * it), the function's process killed between two steps (a child process, SIGKILL), and
 * GetPipelineState answers that lag behind. Every claim settles; nothing is lost or doubled.
 */
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0, retryMode: 'FAILED_ACTIONS' });
useOwnFaults(aws);
const update = updateContaining;
/** The write that creates a claim. */
const claimWrite = update('SET #claim = :claim');

function setup(policy: Record<string, unknown> = {}) {
  const clock = new ManualClock(Date.now());
  const lambda = new LambdaSimulator(aws, clock, { instances: 4 });
  const pipeline = aws.pipeline('own');
  const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
  const ready = aws.policies().setPolicy({ kind: 'pipeline', pipeline }, policy, 'test', new Date());
  return { clock, lambda, pipeline, execution, ready };
}

async function record(pipeline: string, execution: string) {
  return aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
}

describe('Own faults: a lost answer on a ledger write is recognised as our own write', () => {
  it('schedules and makes the retry when the answer to the write that creates a scheduled claim is lost', async () => {
    // Prepare
    const { clock, lambda, pipeline, execution, ready } = setup({ cooldownSeconds: 60, jitter: 'none' });
    await ready;
    (await aws.ownFaults()).inject({ match: claimWrite, fault: 'apply-then-500' });

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect((await aws.ownFaults()).lostReplies()).toHaveLength(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, attempt: 1 })]);
    expect(result.lost).toEqual([]);
  });

  it.each([
    ['a 500', 'apply-then-500'],
    ['a cut connection', 'apply-then-reset'],
  ] as const)('retries once when the answer to the reschedule after a ConflictException is lost to %s', async (_case, fault) => {
    // Prepare
    const { clock, lambda, pipeline, execution, ready } = setup();
    await ready;
    aws.codepipeline.injectFault('RetryStageExecution', { kind: 'exception', name: 'ConflictException' });
    (await aws.ownFaults()).inject({ match: update('#claim.dueAt = :due'), fault });

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, busyCount: 1 })]);
    expect(result.lost).toEqual([]);
  });

  it('takes a dead holder’s claim over once when the answer to the takeover write is lost', async () => {
    // Prepare: an instance claims the failure and is killed right after the claim took effect.
    const { clock, pipeline, execution, ready } = setup();
    await ready;
    const proxy = await aws.ownFaults();
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
    const crash = await runHandlerProcess(event, { killAfter: claimWrite, proxy, now: clock.current });
    proxy.inject({ match: update('#claim.#status = :retrying, #claim.leaseUntil = :lease'), fault: 'apply-then-500' });
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });

    // Act: Lambda redelivers the event after the dead holder's lease ran out.
    clock.advance(121);
    const result = await lambda.run([event]);

    // Assess
    expect(crash.signal).toBe('SIGKILL');
    expect(proxy.lostReplies()).toHaveLength(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
    expect(result.lost).toEqual([]);
  });

  it('gives a slot back once when the answer to the refund is lost, so maxRetries still holds', async () => {
    // Prepare: maxRetries 1; the first claim is refused (not retryable) and its slot given back, the answer lost.
    const { clock, lambda, pipeline, execution, ready } = setup({ maxRetries: 1 });
    await ready;
    aws.codepipeline.injectFault('RetryStageExecution', { kind: 'exception', name: 'StageNotRetryableException' });
    (await aws.ownFaults()).inject({ match: update('retries = retries - :one'), fault: 'apply-then-500' });
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Act: retried by hand, it fails again (occurrence 2: our one retry); that retry fails too (occurrence 3).
    aws.codepipeline.retryByHand(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect((await aws.ownFaults()).lostReplies()).toHaveLength(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const after = await record(pipeline, execution);
    expect(after?.retries).toBe(1);
    expect(after?.skips).toEqual([expect.objectContaining({ occurrence: 3, reason: 'max-retries' })]);
  });

  it('still tells operators once when the answer to the write recording a refusal is lost', async () => {
    // Prepare
    const { clock, lambda, pipeline, ready } = setup({ neverRetryOn: [{ code: ['JobFailed'] }] });
    await ready;
    (await aws.ownFaults()).inject({ match: update('SET #skip = :skip'), fault: 'apply-then-500' });
    const before = aws.sns.published.length;

    // Act
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect((await aws.ownFaults()).lostReplies()).toHaveLength(1);
    const notices = aws.sns.published.slice(before).filter((n) => n.subject?.includes(pipeline));
    expect(notices.map((n) => n.subject)).toEqual([expect.stringContaining('not retryable')]);
  });
});

describe('Own faults: a process killed between two steps', () => {
  it('makes the retry after a kill between the claim and SendMessage, with no redelivery, once the reconciler runs', async () => {
    // Prepare
    const { clock, lambda, pipeline, execution, ready } = setup({ cooldownSeconds: 60, jitter: 'none' });
    await ready;
    const proxy = await aws.ownFaults();
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());

    // Act: the first instance dies as it is about to send the delay message.
    const crash = await runHandlerProcess(event, { killBefore: (call) => call.operation === 'SendMessage', proxy, now: clock.current });
    const stranded = await record(pipeline, execution);
    // Lambda does not redeliver (the process died after the event was taken): only the reconciler can move it.
    clock.advance(60 + 300 + 300);
    const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now });
    await run(scheduledEvent(clock.now()));
    const result = await lambda.run([]);

    // Assess
    expect(crash.signal).toBe('SIGKILL');
    expect(stranded?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Scheduled })]);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
    expect(result.lost).toEqual([]);
  });

  it('sends the delay message again when Lambda redelivers the event of a claim whose process died before sending it', async () => {
    // Prepare
    const { clock, lambda, pipeline, execution, ready } = setup({ cooldownSeconds: 60, jitter: 'none' });
    await ready;
    const proxy = await aws.ownFaults();
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
    await runHandlerProcess(event, { killBefore: (call) => call.operation === 'SendMessage', proxy, now: clock.current });

    // Act: Lambda retries the failed invocation a minute later, on another instance.
    clock.advance(60);
    const result = await lambda.run([event]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
    expect(result.lost).toEqual([]);
  });
});

describe('Own faults: a refused occurrence waits for the slots that have not been used yet', () => {
  it('retries the later failure once the earlier claim gives its slot back, and sends no false "retries exhausted"', async () => {
    // Prepare: maxRetries 1 and a cooldown; the first failure's retry is scheduled.
    const { clock, pipeline, execution, ready } = setup({ maxRetries: 1, cooldownSeconds: 300, jitter: 'none' });
    await ready;
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now });
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
    const before = aws.sns.published.length;

    // Act: someone retries by hand during the cooldown and it fails again (occurrence 2); then everything comes due.
    clock.advance(30);
    aws.codepipeline.retryByHand(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const after = await record(pipeline, execution);
    expect(after?.claims).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ occurrence: 1, status: ClaimStatus.Abandoned, outcome: 'stage-changed' }),
        expect.objectContaining({ occurrence: 2, status: ClaimStatus.Retried }),
      ]),
    );
    expect(aws.sns.published.slice(before).filter((n) => n.subject?.includes('retries exhausted'))).toEqual([]);
    expect(result.lost).toEqual([]);
  });
});

describe('Own faults: GetPipelineState answers that lag behind', () => {
  it('retries the failure of our own retry when the first read still shows the stage in progress', async () => {
    // Prepare: our first retry runs; the reads will lag behind its failure.
    const { clock, lambda, pipeline, execution, ready } = setup();
    await ready;
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);
    aws.codepipeline.lagReads(pipeline, 1);

    // Act
    clock.advance(600);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
    expect((await record(pipeline, execution))?.retries).toBe(2);
    expect(result.lost).toEqual([]);
  });

  it('records why it dropped a failure the reads kept showing in progress', async () => {
    // Prepare
    const { clock, lambda, pipeline, execution, ready } = setup();
    await ready;
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);
    aws.codepipeline.lagReads(pipeline);

    // Act
    clock.advance(600);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.skips).toEqual([
      expect.objectContaining({ occurrence: 2, reason: 'stage-in-progress', detail: expect.stringContaining('still') }),
    ]);
  });

  it('does not call RetryStageExecution again after an unclear answer while the reads lag behind a retry that took effect', async () => {
    // Prepare: maxRetries 1; the call takes effect, its answer is lost, and the reads keep showing the failure as it was.
    const { clock, pipeline, execution, ready } = setup({ maxRetries: 1 });
    await ready;
    aws.codepipeline.injectFault('RetryStageExecution', { kind: 'accepted-then-500' });
    aws.codepipeline.lagReads(pipeline);
    const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now });

    // Act: the retried action fails again before the re-check; the re-check comes due.
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    await lambda.run([]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual([
      expect.objectContaining({ status: ClaimStatus.Retried, uncertain: true }),
    ]);
    expect(aws.codepipeline.calls.map((c) => c.operation)).toContain('ListActionExecutions');
  });
});

describe('Own faults: delay-queue messages the ledger does not know', () => {
  it('does not chain a claim message for a failure the ledger never saw, and leaves it for the DLQ with the reason', async () => {
    // Prepare
    const { clock, pipeline, execution } = setup();
    const logs = new LogCapture();
    const run = aws.handler({ sink: logs.sink, clock: clock.now });
    const body = JSON.stringify({
      v: 1,
      kind: 'claim',
      dueAt: new Date(clock.current + 6 * 3600_000).toISOString(),
      token: 'not-ours',
      failure: {
        eventId: 'e-1',
        account: '123456789012',
        region: 'us-east-1',
        pipeline,
        stage: 'Test',
        executionId: execution,
        occurrence: 1,
        failedAt: clock.now().toISOString(),
      },
    });
    const record = sqsRecord(body, 'm-1', aws.sqs.queueArn);

    // Act
    const response = (await run({ Records: [record] })) as SQSBatchResponse;

    // Assess
    expect(aws.sqs.sent).toEqual([]);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        message: 'malformed delay-queue message: left for the DLQ',
        error: expect.objectContaining({ message: expect.stringContaining('no claim') }),
      }),
    );
  });
});
