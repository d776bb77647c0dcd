import { randomUUID } from 'node:crypto';
import { LogCapture, ManualClock, standardPipeline } from '../../local/local-aws';
import type { PolicyPatch } from '../../policy/policy';
import { useLocalAws } from '../support';

/**
 * The policy language end to end: failure filters, backoff, the retry window, the per-pipeline
 * budget, the change-set default and coexistence with CodePipeline's own retry, all through the
 * real handler, SDK clients, dynalite and the CodePipeline emulator.
 */
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0, retryMode: 'FAILED_ACTIONS' });

beforeEach(() => {
  aws.sqs.reset();
});

async function pipelineWith(policy: PolicyPatch, options: { nativeRetryOnTest?: boolean } = {}): Promise<string> {
  const name = `rules-${randomUUID().slice(0, 8)}`;
  const definition = standardPipeline(name);
  aws.codepipeline.createPipeline({
    ...definition,
    stages: definition.stages.map((s) =>
      s.name === 'Test' && options.nativeRetryOnTest ? { ...s, onFailure: { result: 'RETRY' as const } } : s,
    ),
  });
  await aws.policies().setPolicy({ kind: 'pipeline', pipeline: name }, policy, 'test', new Date());
  return name;
}

function setup(clock = new ManualClock(Date.now())) {
  const logs = new LogCapture();
  aws.sqs.now = () => clock.current;
  aws.codepipeline.now = () => clock.current;
  const run = aws.handler({ sink: logs.sink, clock: clock.now });
  const fail = async (pipeline: string, stage: string) => run(aws.codepipeline.stageFailedEvent(pipeline, stage, clock.now()));
  return { clock, logs, run, fail };
}

afterEach(() => {
  aws.sqs.now = () => Date.now();
  aws.codepipeline.now = () => Date.now();
});

const reasons = (logs: LogCapture) => logs.decisions().map((d) => String(d.reason).split(/[:;]/)[0]);

describe('Policy rules through the handler', () => {
  it.each([
    ['retries a test that timed out', 'Build timed out after 30 minutes', 1, 'no cooldown'],
    ['leaves a compile error alone', 'error TS2304: cannot find name', 0, 'no-retry-rule-match'],
    ['never retries AccessDenied, even though retryOn matches', 'timed out: AccessDenied for s3:PutObject', 0, 'never-retry-rule'],
  ])('%s', async (_case, message, retries, reason) => {
    // Prepare
    const pipeline = await pipelineWith({
      retryOn: [{ category: ['Test'], provider: ['CodeBuild'], message: 'timed out|Throttling|ECONNRESET' }],
      neverRetryOn: [{ code: ['JobFailed'], message: 'AccessDenied' }],
    });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests'], { code: 'JobFailed', message });

    // Act
    await fail(pipeline, 'Test');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(retries);
    expect(reasons(logs)[0]).toBe(reason);
  });

  it.each<[string, PolicyPatch, number, string]>([
    [
      'leaves a failure no class rule covers: unclassified, it is unknown',
      { retryOn: [{ class: ['infrastructure', 'timeout', 'throttled'] }] },
      0,
      'no-retry-rule-match',
    ],
    ['never retries an unknown failure when told so', { neverRetryOn: [{ class: ['unknown'] }] }, 0, 'never-retry-rule'],
    ['retries an unknown failure a class rule allows', { retryOn: [{ class: ['unknown'], provider: ['CodeBuild'] }] }, 1, 'no cooldown'],
  ])('reads class rules back from the table: %s', async (_case, policy, retries, reason) => {
    // Prepare
    const pipeline = await pipelineWith(policy);
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests'], { code: 'JobFailed', message: 'Build timed out' });

    // Act
    await fail(pipeline, 'Test');

    // Assess
    expect((await aws.policies().load(pipeline, 'Test')).layers.pipeline).toEqual(policy);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(retries);
    expect(reasons(logs)[0]).toBe(reason);
  });

  it('filters on category and provider: only CloudFormation deploys are retried', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: [{ category: ['Deploy'], provider: ['CloudFormation'] }] });
    const { fail } = setup();

    // Act
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    await fail(pipeline, 'Test');
    aws.codepipeline.failNewExecution(pipeline, 'Deploy', ['ExecuteChangeSet']);
    await fail(pipeline, 'Deploy');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline).map((c) => c.input.stageName)).toEqual(['Deploy']);
  });

  it('backs off: 1m, then 2m, then 4m between retries', async () => {
    // Prepare
    const pipeline = await pipelineWith({ maxRetries: 3, cooldownSeconds: 60, backoff: 2 });
    const { clock, run, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);

    // Act: the stage fails, waits, is retried and fails again, three times.
    await fail(pipeline, 'Test');
    for (let i = 0; i < 3; i++) {
      const delay = aws.sqs.pending()[0]?.delaySeconds ?? 0;
      clock.advance(delay);
      const batch = aws.sqs.takeVisible();
      if (batch) await run(batch);
      aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
      await fail(pipeline, 'Test');
    }

    // Assess
    expect(aws.sqs.sent.map((m) => m.delaySeconds)).toEqual([60, 120, 240]);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(3);
  });

  it('stops retrying once the retry window since the first failure has passed', async () => {
    // Prepare
    const pipeline = await pipelineWith({ maxRetries: 5, maxRetryWindowSeconds: 600 });
    const { clock, logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);

    // Act
    await fail(pipeline, 'Test');
    clock.advance(300);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await fail(pipeline, 'Test');
    clock.advance(301);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await fail(pipeline, 'Test');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
    expect(reasons(logs)).toEqual(['no cooldown', 'no cooldown', 'retry-window-passed']);
  });

  it('opens the circuit when the pipeline budget is spent, and closes it when the window moves on', async () => {
    // Prepare
    const pipeline = await pipelineWith({ budget: { maxRetries: 2, windowSeconds: 3600 } });
    const { clock, logs, fail } = setup();

    // Act: three different executions fail within the hour, a fourth an hour later.
    for (let i = 0; i < 3; i++) {
      aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      await fail(pipeline, 'Test');
      clock.advance(60);
    }
    const withinHour = aws.codepipeline.acceptedRetries(pipeline).length;
    clock.advance(3600);
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    await fail(pipeline, 'Test');

    // Assess
    expect(withinHour).toBe(2);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(3);
    const circuit = logs.decisions().find((d) => String(d.reason).startsWith('budget-exhausted'));
    expect(String(circuit?.reason)).toMatch(/^budget-exhausted: circuit open: 2 of 2 retries used in the last 3600s; it closes at /);
    expect((await aws.budgets(clock.now())).find((b) => b.pipeline === pipeline)).toEqual(
      expect.objectContaining({ used: 1, maxRetries: 2, open: false }),
    );
  });

  it('retries a CloudFormation change-set stage with ALL_ACTIONS by default, and says why', async () => {
    // Prepare: the default layer says FAILED_ACTIONS; the pipeline says nothing.
    const pipeline = await pipelineWith({ maxRetries: 1 });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Deploy', ['ExecuteChangeSet']);

    // Act
    await fail(pipeline, 'Deploy');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline).map((c) => c.input.retryMode)).toEqual(['ALL_ACTIONS']);
    expect(String(logs.decisions()[0]?.reason)).toContain('ALL_ACTIONS: change-set deploy stage default');
  });

  it("lets CodePipeline's own onFailure retry go first, then applies the policy", async () => {
    // Prepare
    const pipeline = await pipelineWith({ maxRetries: 1 }, { nativeRetryOnTest: true });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);

    // Act: the failure, CodePipeline's own retry (which fails too), then the next failure event.
    await fail(pipeline, 'Test');
    aws.codepipeline.nativeRetry(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await fail(pipeline, 'Test');

    // Assess
    expect(reasons(logs)).toEqual(['native-retry-pending', 'no cooldown']);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });

  it('counts native and hand-made retries against maxRetries when countManualRetries is on', async () => {
    // Prepare
    const pipeline = await pipelineWith({ maxRetries: 2, countManualRetries: true }, { nativeRetryOnTest: true });
    const { logs, run, clock } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);

    // Act: CodePipeline retries once, a person retries once, and it fails again.
    aws.codepipeline.nativeRetry(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    aws.codepipeline.retryByHand(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(String(logs.decisions()[0]?.reason)).toMatch(/^max-retries: .*\(0 ours, 2 native or by hand\)/);
  });

  it('retries a rejected approval only when the policy overrides that built-in rule', async () => {
    // Prepare
    const strict = await pipelineWith({});
    const lenient = await pipelineWith({ overrideBuiltIns: ['approval-rejected'] });
    const { fail } = setup();

    // Act
    for (const pipeline of [strict, lenient]) {
      aws.codepipeline.failNewExecution(pipeline, 'Approve', ['Review']);
      await fail(pipeline, 'Approve');
    }

    // Assess
    expect(aws.codepipeline.acceptedRetries(strict)).toHaveLength(0);
    expect(aws.codepipeline.acceptedRetries(lenient)).toHaveLength(1);
  });
});
