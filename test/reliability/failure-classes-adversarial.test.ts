import { randomUUID } from 'node:crypto';
import { ClaimStatus, MAX_RECORDED_TESTS } from '../../lambda/domain/ledger';
import { MAX_RECORDED_TEST_FIELD } from '../../lambda/domain/test-identities';
import type { ActionDefinition } from '../../local/codepipeline/world';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { LogCapture, ManualClock } from '../../local/local-aws';
import type { ProviderFault } from '../../local/provider-emulator';
import type { PolicyPatch } from '../../policy/policy';
import { transientRules } from '../../policy/rules';
import { at, CLASS_MEMBER, claimWrite, failedCases, reasonsOf, shardActions, skipWrite, useClassWorld } from '../support/class-world';

/**
 * An adversarial pass over failure classes, through the real handler, SDK clients and the
 * offline emulators: STS, CodeBuild, CodeDeploy and CloudFormation faults at the moment a class
 * is read, our own lost DynamoDB replies on writes that carry classes and tests, a process killed
 * between the claim and its delay message, stale or missing provider objects, paging, very large
 * answers and the warm classification cache. Each test names the behaviour it expects.
 */
const { aws, ownFaults, member, pipelineWith, failInMember, setup, record, strandedClaim, redeliverThenWake } = useClassWorld();
const MEMBER = CLASS_MEMBER;

const FAULTS: readonly [string, ProviderFault][] = [
  ['throttled', { kind: 'throttle' }],
  ['answered with HTTP 500', { kind: 'server-error' }],
  ['cut off (connection reset)', { kind: 'reset' }],
];

// ---- 1. STS throttling while assuming the member role for a provider read ----------------------

describe('STS throttling AssumeRole of the member role for a provider read', () => {
  it('says STS throttled AssumeRole of the member role (not CodeBuild), takes the class as unread, and still decides and records the failure', async () => {
    // Prepare: a first failure of the member makes the function assume the role (no provider read needed).
    const clock = new ManualClock(Date.now());
    const { logs, run } = setup(clock);
    const warm = await failInMember({}, undefined);
    await run(member().stageFailedEvent(warm.pipeline, 'Test', clock.now()));
    expect(member().acceptedRetries(warm.pipeline)).toHaveLength(1);
    // Almost an hour later the role's credentials are due for renewal (the CodePipeline client still holds its own).
    clock.advance(3600 - 200);
    const { pipeline, execution } = await failInMember({ retryOn: transientRules() }, { project: 'web-app', phase: 'PROVISIONING' });
    aws.sts.throttling = true;

    // Act
    await run(member().stageFailedEvent(pipeline, 'Test', clock.now()));
    aws.sts.throttling = false;

    // Assess
    expect(aws.sts.throttled).toBeGreaterThan(0);
    expect(member().acceptedRetries(pipeline)).toHaveLength(0);
    const reason = reasonsOf(logs).at(-1) ?? '';
    expect(reason).toContain('STS');
    expect(reason).toContain('AssumeRole');
    expect(reason).not.toContain('CodeBuild throttled the read');
    // The failure is not lost: it is recorded as decided (a skip), or it waits in the delay queue.
    const rec = await aws.ledger().getRecord({ ...MEMBER, pipeline, stage: 'Test', executionId: execution });
    const waiting = aws.sqs.pending().length;
    expect((rec?.skips.length ?? 0) + (rec?.claims.length ?? 0) + waiting).toBeGreaterThan(0);
    expect(rec?.skips[0]?.actionClasses?.UnitTests).toBeUndefined();
  });
});

// ---- 2. ListActionExecutions paging ------------------------------------------------------------

describe('ListActionExecutions past its first page', () => {
  it('judges same-tests-failed when more than 100 action runs of the execution are newer than the run our retry re-ran', async () => {
    // Prepare: a Test stage of 105 actions retried with ALL_ACTIONS: 105 runs newer than the failed UnitTests run.
    const shards = shardActions(104);
    const pipeline = await pipelineWith({ retryMode: 'ALL_ACTIONS' }, shards);
    const { clock, logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('a', 'b'));
    await fail(pipeline);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    clock.advance(30);
    aws.codepipeline.failStage(pipeline, 'Test', execution, ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('b', 'a'));

    // The run our retry re-ran lies beyond the first 100 runs ListActionExecutions lists (newest first).
    const { CodePipelineClient, paginateListActionExecutions } = await import('@aws-sdk/client-codepipeline');
    const client = new CodePipelineClient({ region: 'us-east-1', endpoint: aws.codepipeline.endpoint });
    const details = [];
    for await (const page of paginateListActionExecutions(
      { client },
      { pipelineName: pipeline, filter: { pipelineExecutionId: execution } },
    )) {
      details.push(...(page.actionExecutionDetails ?? []));
    }
    const firstUnitTests = details.findIndex((r) => r.actionName === 'UnitTests');
    const rerun = details.findIndex((r, i) => i > firstUnitTests && r.actionName === 'UnitTests');
    expect(rerun).toBeGreaterThanOrEqual(100);
    client.destroy();

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(reasonsOf(logs).at(-1)).toMatch(/^same-tests-failed: /);
  });
});

// ---- 3. A retry waiting out its cooldown, its provider read failing at the due time ------------

describe('A retry due after its cooldown whose provider read fails at the due time', () => {
  it.each(FAULTS)(
    'still retries under retryOn "transient" with the class recorded when it was scheduled, CodeBuild %s',
    async (_name, fault) => {
      // Prepare
      const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' });
      const { clock, fail } = setup();
      const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
      await fail(pipeline);
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
      // At the due time another (cold) instance takes the message; every CodeBuild read fails.
      const logs = new LogCapture();
      const cold = aws.handler({ sink: logs.sink, clock: clock.now });
      aws.providers.codebuild.injectFault('BatchGetBuilds', fault, 20);
      clock.advance(61);
      const due = aws.sqs.takeVisible();
      expect(due).toBeDefined();

      // Act
      if (due) await cold(due);

      // Assess
      expect(aws.providers.codebuild.count('BatchGetBuilds')).toBeGreaterThan(1);
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
      expect(logs.decisions().map((d) => d.decision)).toEqual(['retried']);
      expect((await record(pipeline, execution))?.claims).toEqual([
        expect.objectContaining({ status: ClaimStatus.Retried, failureClass: 'throttled' }),
      ]);
    },
  );

  it('still retries a member account’s failure at its due time with the recorded class when the member’s CodeBuild throttles', async () => {
    // Prepare: the CodeBuild endpoint serves the member's credentials only.
    aws.providers.codebuild.tenant = { ...MEMBER, accountOf: aws.sts.accountOf };
    const clock = new ManualClock(Date.now());
    const { run } = setup(clock);
    const { pipeline, execution } = await failInMember(
      { retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' },
      { project: 'web-app', phase: 'PROVISIONING' },
    );
    await run(member().stageFailedEvent(pipeline, 'Test', clock.now()));
    expect(member().acceptedRetries(pipeline)).toHaveLength(0);
    const logs = new LogCapture();
    const cold = aws.handler({ sink: logs.sink, clock: clock.now });
    aws.providers.codebuild.throttle('BatchGetBuilds', 20);
    clock.advance(61);
    const due = aws.sqs.takeVisible();
    expect(due).toBeDefined();

    // Act
    if (due) await cold(due);

    // Assess
    expect(member().acceptedRetries(pipeline)).toHaveLength(1);
    expect(logs.decisions().map((d) => d.decision)).toEqual(['retried']);
    const rec = await aws.ledger().getRecord({ ...MEMBER, pipeline, stage: 'Test', executionId: execution });
    expect(rec?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, failureClass: 'throttled' })]);
  });

  it('still retries at the due time with the recorded class when the process died after the claim write and Lambda’s redelivery takes over, CodeBuild throttling', async () => {
    // Prepare: the first instance classifies, writes the scheduled claim and is killed before it sends the delay message.
    const { pipeline, execution, clock, event } = await strandedClaim();
    aws.providers.codebuild.throttle('BatchGetBuilds', 50);
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });

    // Act: Lambda redelivers the event a minute later, to another instance; the delay message follows.
    clock.advance(60);
    const result = await lambda.run([event]);

    // Assess
    // The redelivery meets the scheduled claim: it sends the delay message again, records no contradicting skip, tells no one "not retryable".
    const after = await record(pipeline, execution);
    expect(after?.skips).toEqual([]);
    expect(aws.sns.published.filter((n) => n.subject?.includes(pipeline)).map((n) => n.subject)).not.toContainEqual(
      expect.stringContaining('not retryable'),
    );
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(after?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, failureClass: 'throttled' })]);
    expect(result.lost).toEqual([]);
  });

  it('retries the stranded scheduled claim with its recorded class once the reconciler wakes it, after the redelivery met a throttled CodeBuild', async () => {
    // Prepare: as above, the holder dies between the claim write and SendMessage; the redelivery's read is throttled.
    const { pipeline, execution, clock, event } = await strandedClaim();
    aws.providers.codebuild.throttle('BatchGetBuilds', 50);

    // Act: Lambda redelivers; past the claim's lease, the reconciler's wake-up.
    const { lost } = await redeliverThenWake(event, clock, 400);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual([
      expect.objectContaining({ status: ClaimStatus.Retried, failureClass: 'throttled' }),
    ]);
    expect(lost).toEqual([]);
  });

  it('still retries a CloudFormation "Rate exceeded" failure at its due time when DescribeStackEvents is throttled then', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' });
    const { clock, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Infra', ['Stack']);
    aws.providers.stackFailure(at(pipeline, 'Stack', 'Infra'), {
      logicalResourceId: 'Queue',
      resourceType: 'AWS::SQS::Queue',
      reason: 'Rate exceeded',
    });
    await fail(pipeline, 'Infra');
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const cold = aws.handler({ clock: clock.now });
    aws.providers.cloudformation.throttle('DescribeStackEvents', 20);
    clock.advance(61);
    const due = aws.sqs.takeVisible();

    // Act
    if (due) await cold(due);

    // Assess
    expect(due).toBeDefined();
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution, 'Infra'))?.claims).toEqual([
      expect.objectContaining({ status: ClaimStatus.Retried, failureClass: 'throttled' }),
    ]);
  });
});

// ---- 4. neverRetryOn a class the provider would not tell --------------------------------------

describe('neverRetryOn a class that could not be read', () => {
  it('does not retry under neverRetryOn {class: ["test"]} when CodeBuild throttles the read, and says the class could not be read', async () => {
    // Prepare
    const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['test'] }] });
    const { logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('renders the cart'));
    aws.providers.codebuild.throttle('BatchGetBuilds', 10);

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const reason = reasonsOf(logs)[0] ?? '';
    expect(reason).toMatch(/^never-retry-rule/);
    expect(reason).toContain('the class could not be read');
    expect((await record(pipeline, execution))?.skips).toEqual([expect.objectContaining({ reason: 'never-retry-rule' })]);
  });

  it('does not retry under neverRetryOn {class: ["test"]} when the failed action ran a build CodeBuild does not know (its class is untold)', async () => {
    // Prepare: the action's run names a build id CodeBuild has no build for.
    const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['test'] }] });
    const { logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.action(pipeline, 'Test', 'UnitTests', execution).run.externalExecutionId = `web-app:${randomUUID()}`;

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.providers.codebuild.count('BatchGetBuilds')).toBe(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reasonsOf(logs)[0]).toMatch(/^never-retry-rule/);
  });
});

// ---- beyond: our own lost replies on writes that carry classes ------------------------------

describe('Our own lost replies on writes that carry classes and tests', () => {
  it.each([
    ['a 500', 'apply-then-500'],
    ['a cut connection', 'apply-then-reset'],
  ] as const)(
    'retries once and keeps one claim with its class and action classes when the answer to the scheduled-claim write is lost to %s',
    async (_c, fault) => {
      // Prepare
      const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' });
      const clock = new ManualClock(Date.now());
      const lambda = new LambdaSimulator(aws, clock, { instances: 3 });
      const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
      (await ownFaults()).inject({ match: claimWrite, fault });

      // Act
      const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

      // Assess
      expect((await ownFaults()).lostReplies()).toHaveLength(1);
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
      expect((await record(pipeline, execution))?.claims).toEqual([
        expect.objectContaining({
          status: ClaimStatus.Retried,
          failureClass: 'throttled',
          actionClasses: { UnitTests: 'throttled' },
        }),
      ]);
      expect(result.lost).toEqual([]);
    },
  );

  it('records one skip with its class and failed tests when the answer to the skip write is lost', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const clock = new ManualClock(Date.now());
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('renders the cart', 'totals the cart'));
    (await ownFaults()).inject({ match: skipWrite, fault: 'apply-then-500' });

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect((await ownFaults()).lostReplies()).toHaveLength(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const rec = await record(pipeline, execution);
    expect(rec?.skips).toEqual([
      expect.objectContaining({
        reason: 'no-retry-rule-match',
        failureClass: 'test',
        failedTests: [expect.objectContaining({ name: 'renders the cart' }), expect.objectContaining({ name: 'totals the cart' })],
      }),
    ]);
    expect(result.lost).toEqual([]);
  });
});

// ---- beyond: same-tests-failed under faults --------------------------------------------------

describe('same-tests-failed when a test-case read is throttled', () => {
  /** UnitTests fails with [a, b], our retry runs, and fails with [a, b] again; `fault` is set before the second failure is read. */
  async function failTwice(fault: () => void) {
    const pipeline = await pipelineWith({});
    const { logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('a', 'b'));
    await fail(pipeline);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    aws.providers.build(at(pipeline), failedCases('a', 'b'));
    fault();
    await fail(pipeline);
    return { pipeline, execution, logs };
  }

  it('decides the second failure (retries it again, as the same tests cannot be told) and never claims "same tests" when the new build’s test cases are throttled', async () => {
    // Act
    const { pipeline, execution, logs } = await failTwice(() => aws.providers.codebuild.throttle('DescribeTestCases', 20));

    // Assess
    expect(logs.decisions()).toHaveLength(2);
    expect(reasonsOf(logs).at(-1)).not.toMatch(/same-tests-failed/);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
    expect((await record(pipeline, execution))?.claims).toHaveLength(2);
  });

  it('does not stop as same-tests-failed when the earlier build’s test cases are throttled (the same tests are not shown)', async () => {
    // Act: the current build's two case reads go through; the earlier build's are throttled.
    const { pipeline, logs } = await failTwice(() => aws.providers.codebuild.injectFault('DescribeTestCases', { kind: 'throttle' }, 20, 2));

    // Assess
    expect(reasonsOf(logs).at(-1)).not.toMatch(/same-tests-failed/);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
  });
});

// ---- beyond: flaky tests, huge answers, many actions ----------------------------------------

describe('Flaky tests at the recovery', () => {
  it('records a flaky test once when the recovery event is delivered three times (twice redelivered, to other instances)', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: [{ class: ['test'] }] });
    const { run, fail, clock } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('renders the cart'));
    await fail(pipeline);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Succeeded');
    const recovered = aws.codepipeline.stageSucceededEvent(pipeline, 'Test', clock.now());

    // Act
    await run(structuredClone(recovered));
    await aws.handler({ clock: clock.now })(structuredClone(recovered));
    clock.advance(60);
    await aws.handler({ clock: clock.now })(structuredClone(recovered));

    // Assess
    const rec = await record(pipeline, execution);
    expect(rec?.flaky).toEqual([expect.objectContaining({ suite: 'cart', name: 'renders the cart', stage: 'Test' })]);
  });
});

describe('Very large answers', () => {
  const huge = (i: number) => `${String(i).padStart(3, '0')}-${'x'.repeat(8 * 1024)}`;

  it('retries, records at most the bounded tests with clipped names, and loses no event with twenty 8-KB test names failing three times', async () => {
    // Prepare: each failure has twenty 8-KB test names, different each time (so same-tests-failed does not stop it).
    const pipeline = await pipelineWith({ retryOn: [{ class: ['test'] }], maxRetries: 2 });
    const clock = new ManualClock(Date.now());
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const lost: unknown[] = [];

    // Act
    for (let round = 0; round < 3; round++) {
      aws.providers.build(at(pipeline), failedCases(...Array.from({ length: 20 }, (_, i) => `${round}-${huge(i)}`)));
      const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);
      lost.push(...result.lost);
      if (round < 2) aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
      clock.advance(30);
    }

    // Assess
    expect(lost).toEqual([]);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
    const rec = await record(pipeline, execution);
    expect(rec?.claims).toHaveLength(2);
    expect(rec?.skips).toEqual([expect.objectContaining({ reason: 'max-retries' })]);
    expect(rec?.claims[0]?.failedTests?.length).toBeGreaterThan(0);
    for (const entry of [...(rec?.claims ?? []), ...(rec?.skips ?? [])]) {
      expect(entry.failureClass).toBe('test');
      expect(entry.failedTests?.length ?? 0).toBeLessThanOrEqual(MAX_RECORDED_TESTS);
      for (const t of entry.failedTests ?? []) expect(t.name.length).toBeLessThanOrEqual(MAX_RECORDED_TEST_FIELD);
    }
    // The decision's reason and the notice stay readable, not kilobytes of test names.
    for (const reason of lambda.logs.decisions().map((d) => String(d.reason ?? ''))) expect(reason.length).toBeLessThan(4096);
  });
});

describe('Fifty failed actions in one stage', () => {
  /** Build specs that classify as different classes, by index. */
  const specs = [
    { phase: 'PROVISIONING' as const },
    { status: 'TIMED_OUT' as const, phase: 'BUILD' as const },
    { status: 'FAULT' as const, phase: 'BUILD' as const },
    { phase: 'DOWNLOAD_SOURCE' as const },
  ];

  async function fiftyFailed(policy: PolicyPatch, oddOne?: { index: number; spec: Parameters<typeof aws.providers.build>[1] }) {
    const shards: ActionDefinition[] = Array.from({ length: 49 }, (_, i) => ({
      name: `Shard${i}`,
      category: 'Test',
      provider: 'CodeBuild',
      configuration: { ProjectName: `shard-${i}` },
    }));
    const pipeline = await pipelineWith(policy, shards);
    const names = ['UnitTests', ...shards.map((s) => s.name)];
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', names);
    names.forEach((name, i) => {
      aws.providers.build(at(pipeline, name), oddOne?.index === i ? oddOne.spec : (specs[i % specs.length] ?? {}));
    });
    return { pipeline, execution, names };
  }

  it('retries once when all fifty failed with transient classes, reading each build once', async () => {
    // Prepare
    const { pipeline, execution } = await fiftyFailed({ retryOn: transientRules() });
    const { fail } = setup();

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(aws.providers.codebuild.count('BatchGetBuilds')).toBeLessThanOrEqual(50);
    const claim = (await record(pipeline, execution))?.claims[0];
    expect(Object.keys(claim?.actionClasses ?? {})).toHaveLength(50);
    expect(new Set(Object.values(claim?.actionClasses ?? {}))).toEqual(new Set(['throttled', 'infrastructure', 'timeout']));
  });

  it('leaves the stage alone and names the one action whose tests failed among fifty transient failures', async () => {
    // Prepare
    const { pipeline } = await fiftyFailed({ retryOn: transientRules() }, { index: 37, spec: failedCases('totals the cart') });
    const { logs, fail } = setup();

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const reason = reasonsOf(logs)[0] ?? '';
    expect(reason).toMatch(/^no-retry-rule-match/);
    expect(reason).toContain('Shard36');
    expect(reason).toContain('class test');
  });

  it('does not retry under neverRetryOn {class: ["test"]} when CodeBuild throttles a few of the fifty reads', async () => {
    // Prepare: every read after the first 45 is throttled (both of the SDK's attempts).
    const { pipeline, execution } = await fiftyFailed({ neverRetryOn: [{ class: ['test'] }] });
    aws.providers.codebuild.injectFault('BatchGetBuilds', { kind: 'throttle' }, 40, 45);
    const { logs, fail } = setup();

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reasonsOf(logs)[0]).toMatch(/^never-retry-rule/);
    expect((await record(pipeline, execution))?.skips).toHaveLength(1);
  });
});

// ---- beyond: CloudFormation throttling, the warm cache ----------------------------------------

describe('CloudFormation throttling on DescribeStackEvents', () => {
  it('takes the stack failure as unread, says CloudFormation throttled the read, and records it without retrying under a class rule', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: [{ class: ['infrastructure', 'throttled'] }] });
    const { logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Infra', ['Stack']);
    aws.providers.stackFailure(at(pipeline, 'Stack', 'Infra'), {
      logicalResourceId: 'Queue',
      resourceType: 'AWS::SQS::Queue',
      reason: 'Rate exceeded',
    });
    aws.providers.cloudformation.throttle('DescribeStackEvents', 20);

    // Act
    await fail(pipeline, 'Infra');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reasonsOf(logs)[0]).toContain('CloudFormation throttled the read');
    const rec = await record(pipeline, execution, 'Infra');
    expect(rec?.skips).toEqual([expect.objectContaining({ reason: 'no-retry-rule-match' })]);
    expect(rec?.skips[0]?.actionClasses).toBeUndefined();
  });
});

describe('CodeDeploy faults on GetDeployment', () => {
  async function deployPipeline(policy: PolicyPatch): Promise<string> {
    const name = `advd-${randomUUID().slice(0, 8)}`;
    const configuration = { ApplicationName: 'web', DeploymentGroupName: 'fleet' };
    aws.codepipeline.createPipeline({
      name,
      stages: [{ name: 'Deploy', actions: [{ name: 'DeployApp', category: 'Deploy', provider: 'CodeDeploy', configuration }] }],
    });
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline: name }, policy, 'test', new Date());
    return name;
  }

  it('does not retry under neverRetryOn {class: ["deployment-health"]} when GetDeployment is throttled (the class is untold)', async () => {
    // Prepare
    const pipeline = await deployPipeline({ neverRetryOn: [{ class: ['deployment-health'] }] });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Deploy', ['DeployApp']);
    aws.providers.deployment(at(pipeline, 'DeployApp', 'Deploy'), {
      errorInformation: { code: 'HEALTH_CONSTRAINTS', message: 'too many individual instances failed' },
    });
    aws.providers.codedeploy.throttle('GetDeployment', 20);

    // Act
    await fail(pipeline, 'Deploy');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reasonsOf(logs)[0]).toMatch(/^never-retry-rule/);
    expect(reasonsOf(logs)[0]).toContain('the class could not be read');
  });

  it('still retries a THROTTLED deployment at its due time with the recorded class when GetDeployment answers 500 then', async () => {
    // Prepare
    const pipeline = await deployPipeline({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' });
    const { clock, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Deploy', ['DeployApp']);
    aws.providers.deployment(at(pipeline, 'DeployApp', 'Deploy'), { errorInformation: { code: 'THROTTLED', message: 'Rate exceeded' } });
    await fail(pipeline, 'Deploy');
    const scheduled = (await record(pipeline, execution, 'Deploy'))?.claims[0];
    const cold = aws.handler({ clock: clock.now });
    aws.providers.codedeploy.failWith500('GetDeployment', 20);
    clock.advance(61);
    const due = aws.sqs.takeVisible();

    // Act
    if (due) await cold(due);

    // Assess
    expect(scheduled).toEqual(expect.objectContaining({ status: ClaimStatus.Scheduled }));
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution, 'Deploy'))?.claims).toEqual([
      expect.objectContaining({ status: ClaimStatus.Retried, failureClass: scheduled?.failureClass }),
    ]);
  });
});

describe('The warm classification cache across executions of one pipeline', () => {
  it('does not carry a CodeBuild class from one execution to the next on the same instance', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { clock, logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    await fail(pipeline);
    clock.advance(300);
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('renders the cart'));

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(reasonsOf(logs)[1]).toContain('class test');
  });

  it('does not carry a CloudFormation class from one execution to the next on the same stack and instance', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { clock, logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Infra', ['Stack']);
    aws.providers.stackFailure(at(pipeline, 'Stack', 'Infra'), {
      logicalResourceId: 'Queue',
      resourceType: 'AWS::SQS::Queue',
      reason: 'Rate exceeded',
    });
    await fail(pipeline, 'Infra');
    clock.advance(600);
    const second = aws.codepipeline.failNewExecution(pipeline, 'Infra', ['Stack']);
    aws.providers.stackFailure(at(pipeline, 'Stack', 'Infra'), {
      logicalResourceId: 'Bucket',
      resourceType: 'AWS::S3::Bucket',
      reason: 'web-assets already exists',
      operation: 'CREATE',
    });

    // Act
    await fail(pipeline, 'Infra');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(reasonsOf(logs)[1]).toContain('class configuration');
    expect((await record(pipeline, second, 'Infra'))?.skips[0]?.failureClass).toBe('configuration');
  });

  /** Makes CodeBuild's build `id` answer as the build `from` does now (the same build, later). */
  function buildBecomes(id: string, from: string): void {
    const builds = (aws.providers.codebuild as unknown as { builds: Map<string, Record<string, unknown>> }).builds;
    const later = builds.get(from);
    if (!later) throw new Error(`no build ${from}`);
    builds.set(id, { ...later, id, arn: String(later.arn).replace(from, id) });
  }

  it.each([
    ['still IN_PROGRESS (CodeBuild lagging behind CodePipeline)', 'in-progress', 'has not finished: it is IN_PROGRESS'],
    ['not found yet (BatchGetBuilds lagging)', 'not-found', 'CodeBuild has no build'],
  ] as const)(
    'takes a build %s as a class not read (no retry under neverRetryOn test), does not keep it, and reads the build again on the next delivery',
    async (_name, lag, evidence) => {
      // Prepare: neverRetryOn test; CodeBuild's first answer is not final.
      const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['test'] }] });
      const { logs, fail } = setup();
      const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      const id =
        lag === 'in-progress'
          ? aws.providers.codebuild.putBuild({ project: 'web-app', status: 'IN_PROGRESS', phase: 'BUILD' })
          : `web-app:${randomUUID()}`;
      aws.codepipeline.action(pipeline, 'Test', 'UnitTests', execution).run.externalExecutionId = id;

      // Act: the first delivery, then (the build has ended: its tests failed) a redelivery on the same warm instance.
      await fail(pipeline);
      const first = reasonsOf(logs).at(-1) ?? '';
      buildBecomes(id, aws.providers.codebuild.putBuild({ project: 'web-app', ...failedCases('renders the cart') }));
      await fail(pipeline);

      // Assess: the class that could not be told leaned to no retry; the final answer was read, not a cached one.
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
      expect(first).toMatch(/^never-retry-rule/);
      expect(first).toContain('the class could not be read from the provider; taken as matching');
      expect(first).toContain(evidence);
      expect(aws.providers.codebuild.count('BatchGetBuilds')).toBe(2);
      expect(reasonsOf(logs).at(-1)).not.toContain('could not be read');
    },
  );

  it('leaves a transient failure whose build has not finished alone under retryOn "transient", and says the class could not be read', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const id = aws.providers.codebuild.putBuild({ project: 'web-app', status: 'IN_PROGRESS', phase: 'PROVISIONING' });
    aws.codepipeline.action(pipeline, 'Test', 'UnitTests', execution).run.externalExecutionId = id;

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reasonsOf(logs).at(-1)).toMatch(/^no-retry-rule-match/);
    expect(reasonsOf(logs).at(-1)).toContain('has not finished: it is IN_PROGRESS');
    expect((await record(pipeline, execution))?.skips[0]?.actionClasses).toBeUndefined();
  });
});
