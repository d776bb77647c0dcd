import { ClaimStatus } from '../../lambda/domain/ledger';
import type { ProxyFault } from '../../local/fault-proxy';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { LogCapture, ManualClock } from '../../local/local-aws';
import { ledgerKey, runHandlerProcess, scheduledEvent, updateContaining, useLocalAws, useOwnFaults } from '../support';

/**
 * What an adversarial review of "every claim settles" found, each played for real and kept as a
 * test (with the case that held before it, where there is one): combinations of a dead holder, a
 * lost answer, throttling, lagging reads and an operator's change that once cost a double retry,
 * a missed retry or a false "retries exhausted".
 */
const aws = useLocalAws({ maxRetries: 1, cooldownSeconds: 0, retryMode: 'FAILED_ACTIONS' });
useOwnFaults(aws);
const update = updateContaining;
const claimWrite = update('SET #claim = :claim');
const finishWrite = update('#claim.outcome = :outcome');
/** The write that takes a claim when its delay message comes due. */
const takeDue = update('#claim.#token = :token');

function setup() {
  const clock = new ManualClock(Date.now());
  const pipeline = aws.pipeline('adv');
  const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
  return { clock, pipeline, execution, lambda: new LambdaSimulator(aws, clock, { instances: 2 }) };
}

const record = (pipeline: string, execution: string) => aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));

describe('Adversarial: a takeover stays uncertain whatever sends the claim back to waiting', () => {
  it.each([
    ['the takeover reads nothing in its way', 0],
    ['the takeover’s read is throttled', 2],
  ])('retries once when the holder died after its retry took effect and %s', async (_case, throttles) => {
    // Prepare: the holder's RetryStageExecution is accepted, and it dies before recording it.
    const { clock, pipeline, lambda } = setup();
    const proxy = await aws.ownFaults();
    const crash = await runHandlerProcess(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()), {
      killBefore: finishWrite,
      proxy,
      now: clock.current,
    });

    // Act: past the lease the reconciler wakes the claim; then the dead holder's retry fails (occurrence 2).
    clock.advance(125);
    if (throttles > 0) aws.codepipeline.injectFault('GetPipelineState', { kind: 'throttle' }, throttles);
    await aws.handler({ sink: new LogCapture().sink, clock: clock.now })(scheduledEvent(clock.now()));
    await lambda.run([]);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    clock.advance(30);
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(crash.signal).toBe('SIGKILL');
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(result.lost).toEqual([]);
  });

  it('retries once when the holder died after its retry took effect, the cooldown was raised meanwhile and the reads lag', async () => {
    // Prepare: the next reads show the failure as it was (the holder's, the redelivery's, the takeover's).
    const { clock, pipeline, lambda } = setup();
    const proxy = await aws.ownFaults();
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
    aws.codepipeline.lagReads(pipeline, 3);
    await runHandlerProcess(event, { killBefore: finishWrite, proxy, now: clock.current });
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 900, jitter: 'none' }, 'test', new Date());

    // Act: Lambda redelivers; later the dead holder's retry fails (occurrence 2).
    clock.advance(60);
    await lambda.run([event]);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    clock.advance(30);
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(result.lost).toEqual([]);
  });
});

describe('Adversarial: a lost answer to the write that takes a due claim', () => {
  it.each<[string, ProxyFault | undefined]>([
    ['no fault', undefined],
    ['a 500', 'apply-then-500'],
    ['a cut connection', 'apply-then-reset'],
  ])('retries the later failure once, with no false notice, after a retry by hand, when that answer meets %s', async (_case, fault) => {
    // Prepare: maxRetries 1, a 5-minute cooldown; occurrence 1 is scheduled.
    const { clock, pipeline, execution, lambda } = setup();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 300, jitter: 'none' }, 'test', new Date());
    await aws.handler({ sink: new LogCapture().sink, clock: clock.now })(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
    if (fault) (await aws.ownFaults()).inject({ match: takeDue, fault });
    const before = aws.sns.published.length;

    // Act: a person retries during the cooldown, it fails again (occurrence 2); everything comes due.
    clock.advance(30);
    aws.codepipeline.retryByHand(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess: occurrence 1 never called, so it is abandoned; occurrence 2 gets the one retry.
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ occurrence: 1, status: ClaimStatus.Abandoned }),
        expect.objectContaining({ occurrence: 2, status: ClaimStatus.Retried }),
      ]),
    );
    expect(aws.sns.published.slice(before).filter((n) => n.subject?.includes('retries exhausted'))).toEqual([]);
  });
});

describe('Adversarial: a failure waiting for slots outlasts an earlier claim that is throttled', () => {
  it('retries the later failure once although the earlier claim’s reads are throttled time after time', async () => {
    // Prepare: maxRetries 1, a cooldown; occurrence 1 is scheduled, and each time it is taken its read is throttled.
    const { clock, pipeline, lambda } = setup();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 300, jitter: 'none' }, 'test', new Date());
    await aws.handler({ sink: new LogCapture().sink, clock: clock.now })(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
    const proxy = await aws.ownFaults();
    let left = 9;
    proxy.beforeCall = (call) => {
      if (left > 0 && takeDue(call) && JSON.stringify(call.input.ExpressionAttributeNames).includes('occ_1')) {
        left -= 1;
        aws.codepipeline.injectFault('GetPipelineState', { kind: 'throttle' }, 2);
      }
      return undefined;
    };

    // Act: a person retries during the cooldown and it fails again: occurrence 2 waits for the slot.
    clock.advance(30);
    aws.codepipeline.retryByHand(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess: occurrence 1 was throttled again and again (more reschedules than the old count of slot waits allowed).
    const throttled = aws.codepipeline.calls.filter((c) => c.error === 'ThrottlingException' && c.input.name === pipeline);
    expect(throttled.length).toBeGreaterThanOrEqual(10);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(result.lost).toEqual([]);
  });
});

describe('Adversarial: a read that still shows the failure our retry re-ran', () => {
  it.each([
    ['fresh', false],
    ['lagging behind our retry', true],
  ])('makes both retries maxRetries 2 allows when the later failure’s first read is %s', async (_case, lag) => {
    // Prepare: occurrence 1 retried after a one-minute cooldown.
    const { clock, pipeline, lambda } = setup();
    await aws
      .policies()
      .setPolicy({ kind: 'pipeline', pipeline }, { maxRetries: 2, cooldownSeconds: 60, jitter: 'none' }, 'test', new Date());
    const firstFailure = aws.codepipeline.stateOf(pipeline);
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Act: our retry fails (occurrence 2); its first read may still show occurrence 1's failure.
    clock.advance(20);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    if (lag) aws.codepipeline.lagReads(pipeline, 1, firstFailure);
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
    expect(result.lost).toEqual([]);
  });
});

describe('Adversarial: DynamoDB throttling', () => {
  it('waits through the delay queue, spending none of Lambda’s retries, while the table throttles three invocations’ worth of calls', async () => {
    // Prepare: every call on the record is throttled nine times in a row (the SDK's three attempts, three times over).
    const { clock, pipeline, lambda } = setup();
    (await aws.ownFaults()).inject({
      match: (call) => JSON.stringify(call.input.Key ?? '').includes(pipeline),
      fault: 'throttle',
      times: 9,
    });

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(result.faults).toBe(0);
    expect(result.lost).toEqual([]);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

describe('Adversarial: a pause set while a dead holder’s lease runs', () => {
  it.each([
    ['a policy that does not read the ledger first', {}],
    ['a policy that reads the ledger first (backoff)', { backoff: 2 }],
  ])('keeps the redelivered event from retrying under %s', async (_case, patch) => {
    // Prepare: the holder is killed right after its claim took effect; then the pipeline is paused.
    const { clock, pipeline, execution, lambda } = setup();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, patch, 'test', new Date());
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
    await runHandlerProcess(event, { killAfter: claimWrite, proxy: await aws.ownFaults(), now: clock.current });
    await aws.policies().pause(pipeline, { updatedBy: 'operator', now: new Date() });

    // Act: Lambda redelivers after the lease.
    clock.advance(125);
    await lambda.run([event]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect((await record(pipeline, execution))?.claims).toEqual([
      expect.objectContaining({ status: ClaimStatus.Abandoned, outcome: 'paused' }),
    ]);
  });
});

describe('Adversarial, second pass: an event without an attempt number whose read lags', () => {
  const noAttempt = (event: Record<string, unknown>) => {
    delete (event.detail as Record<string, unknown>)['pipeline-execution-attempt'];
    return event;
  };

  it.each([
    ['fresh', false],
    ['lagging behind our retry', true],
  ])('makes both retries maxRetries 2 allows when the later failure’s first read is %s', async (_case, lag) => {
    // Prepare: the events carry no pipeline-execution-attempt, so failures are named by their failed actions.
    const { clock, pipeline, lambda } = setup();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { maxRetries: 2 }, 'test', new Date());
    const firstFailure = aws.codepipeline.stateOf(pipeline);
    await lambda.run([noAttempt(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()))]);

    // Act: our retry fails again; the first read of the new failure may still show the old one.
    clock.advance(20);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    if (lag) aws.codepipeline.lagReads(pipeline, 1, firstFailure);
    const result = await lambda.run([noAttempt(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()))]);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
    expect(result.lost).toEqual([]);
  });
});

describe('Adversarial, second pass: throttled reads after a takeover', () => {
  it.each([['GetPipelineState'], ['ListActionExecutions']])(
    'retries once when CodePipeline throttles %s for about six minutes after the holder died before calling',
    async (operation) => {
      // Prepare: the holder dies right after its claim took effect: it never called.
      const { clock, pipeline, execution, lambda } = setup();
      const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
      await runHandlerProcess(event, { killAfter: claimWrite, proxy: await aws.ownFaults(), now: clock.current });
      aws.codepipeline.injectFault(operation, { kind: 'throttle' }, 22);

      // Act: Lambda redelivers after the lease; the reconciler runs every 5 minutes for two hours.
      clock.advance(125);
      await lambda.run([event]);
      for (let i = 0; i < 24; i++) {
        clock.advance(300);
        await aws.handler({ sink: new LogCapture().sink, clock: clock.now })(scheduledEvent(clock.now()));
        await lambda.run([]);
      }

      // Assess: the throttled evidence read waits like throttling does (growing waits), not like a busy answer.
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
      expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
    },
  );
});

describe('Adversarial, second pass: DynamoDB throttling while a failure waits for a slot', () => {
  it.each([0, 35])('retries the later failure once when reads of the record are throttled for %i minutes of the wait', async (minutes) => {
    // Prepare: an hour's cooldown; a retry by hand fails during it (occurrence 2 waits for the slot).
    const { clock, pipeline, lambda } = setup();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { cooldownSeconds: 3600, jitter: 'none' }, 'test', new Date());
    const run = aws.handler({ sink: new LogCapture().sink, clock: clock.now });
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
    clock.advance(30);
    aws.codepipeline.retryByHand(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));
    const until = clock.current + minutes * 60_000;
    (await aws.ownFaults()).chaos = {
      rate: 1,
      random: () => 0,
      faults: ['throttle'],
      match: (call) =>
        clock.current < until && call.operation === 'GetItem' && JSON.stringify(call.input.Key ?? '').includes(`LEDGER#${pipeline}`),
    };

    // Act: the hops of the wait, and the reconciler every 5 minutes for two hours.
    let result = await lambda.run([]);
    for (let i = 0; i < 24; i++) {
      clock.advance(300);
      await run(scheduledEvent(clock.now()));
      result = await lambda.run([]);
    }

    // Assess
    expect(result.deadLettered).toBe(0);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });
});
