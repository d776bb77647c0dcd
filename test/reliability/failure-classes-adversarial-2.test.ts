import { randomUUID } from 'node:crypto';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { TableKeys } from '../../contract';
import { ClaimStatus } from '../../lambda/domain/ledger';
import type { ActionDefinition } from '../../local/codepipeline/world';
import type { ProxiedCall } from '../../local/fault-proxy';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { LogCapture, ManualClock, standardPipeline } from '../../local/local-aws';
import type { PolicyPatch } from '../../policy/policy';
import { transientRules } from '../../policy/rules';
import { ledgerKey } from '../support';
import { at, CLASS_MEMBER, failedCases, reasonsOf, shardActions, skipWrite, useClassWorld } from '../support/class-world';

/**
 * A second adversarial pass over the fixes for failure classes, through the real handler, SDK
 * clients and offline emulators: the ledger read before a skip (faults on it, a claim that lands
 * just after it, claims in every state, another occurrence, a pause, observe mode), the unread
 * class in mixed stages and combined rules, the recorded classes at the due time (a stage re-run
 * by hand, a claim of an older version), ListActionExecutions paging under faults in PARALLEL
 * mode, and STS throttling of a member's CodePipeline reads.
 */
const { aws, ownFaults, member, pipelineWith, setup, record, noticesOf, strandedClaim, redeliverThenWake, claimHeldElsewhere } =
  useClassWorld();
const MEMBER = CLASS_MEMBER;

const ledgerRead = (call: ProxiedCall): boolean =>
  call.operation === 'GetItem' && String((call.input.Key as { pk?: { S?: string } } | undefined)?.pk?.S ?? '').startsWith('LEDGER#');

const second: ActionDefinition = { name: 'Lint', category: 'Test', provider: 'CodeBuild', configuration: { ProjectName: 'lint' } };

// ---- A. the ledger read before a skip ---------------------------------------------------------

describe('A redelivery that decides to skip a failure whose claim was written by a process that died', () => {
  it.each([
    ['throttled (every attempt)', 'throttle'],
    ['answered with HTTP 500 (every attempt)', 'server-error'],
    ['cut off (every attempt)', 'reset'],
  ] as const)('retries exactly once, writes no skip and sends no notice when the ledger’s reads are %s', async (_name, fault) => {
    // Prepare
    const { pipeline, execution, clock, event, proxy } = await strandedClaim();
    aws.providers.codebuild.throttle('BatchGetBuilds', 200);
    proxy.inject({ match: ledgerRead, fault, times: 3 });

    // Act: Lambda redelivers a minute later; the reconciler runs past the claim's grace.
    const { lost } = await redeliverThenWake(event, clock, 900);

    // Assess
    expect(proxy.records.filter((r) => ledgerRead(r) && r.fault === fault).length).toBeGreaterThan(0);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const after = await record(pipeline, execution);
    expect(after?.skips).toEqual([]);
    expect(after?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
    expect(noticesOf(pipeline).map((n) => n.subject)).toEqual([]);
    expect(lost).toEqual([]);
  });

  it('lets the claim stand and tells no one "not retryable" when another instance’s claim lands just before the skip write', async () => {
    // Prepare: a delivery whose CodeBuild read is throttled (both attempts) decides no retry; a
    // concurrent delivery of the same event claims the failure just before the skip is written.
    const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' });
    const { clock, logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    aws.providers.codebuild.throttle('BatchGetBuilds', 2);
    const proxy = await ownFaults();
    const store = aws.ledgerStore();
    let landed: Promise<unknown> | undefined;
    let done = false;
    proxy.beforeCall = (call) => {
      if (!skipWrite(call)) return undefined;
      // The skip write goes out only once the other instance's claim has landed (a dropped call is resent).
      if (landed) return done ? undefined : 'drop';
      const now = new Date(clock.current);
      landed = store
        .claim(ledgerKey(pipeline, 'Test', execution), {
          occurrence: 1,
          status: ClaimStatus.Scheduled,
          retryMode: 'FAILED_ACTIONS',
          dueAt: new Date(now.getTime() + 60_000),
          leaseUntil: new Date(now.getTime() + 660_000),
          token: randomUUID(),
          fingerprint: 'other-instance',
          maxRetries: 2,
          failedAt: now,
          now,
          failureClass: 'throttled',
          actionClasses: { UnitTests: 'throttled' },
        })
        .finally(() => {
          done = true;
        });
      return 'drop';
    };

    // Act
    await fail(pipeline);
    await landed;

    // Assess
    expect(landed).toBeDefined();
    expect(reasonsOf(logs).at(-1)).toBeDefined();
    const after = await record(pipeline, execution);
    expect(after?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Scheduled })]);
    expect({ skips: after?.skips, notices: noticesOf(pipeline).map((n) => n.subject) }).toEqual({ skips: [], notices: [] });
  });

  it.each([
    ['held by a live instance that is retrying it', 'live'],
    ['retried already', 'retried'],
  ] as const)('writes no skip and sends no notice for a redelivery with CodeBuild throttled when the claim is %s', async (_name, state) => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { clock, fail, logs } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
    if (state === 'live') {
      // Another instance claimed it a moment ago and is about to call RetryStageExecution.
      const now = new Date(clock.current);
      await claimHeldElsewhere(pipeline, execution, now);
    } else {
      await fail(pipeline);
    }
    aws.providers.codebuild.throttle('BatchGetBuilds', 20);

    // Act: the same event again, to a cold instance (nothing cached).
    clock.advance(5);
    await aws.handler({ sink: logs.sink, clock: clock.now })(structuredClone(event));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(state === 'live' ? 0 : 1);
    const after = await record(pipeline, execution);
    expect(after?.claims).toHaveLength(1);
    expect(after?.skips).toEqual([]);
    expect(noticesOf(pipeline).map((n) => n.subject)).toEqual([]);
    expect(reasonsOf(logs).at(-1)).not.toMatch(/^no-retry-rule-match/);
  });

  it('records the next occurrence (attempt 2) of the execution as skipped with its reason, leaving the first occurrence’s retried claim alone, when CodeBuild throttles', async () => {
    // Prepare: occurrence 1 retried; the retry fails (attempt 2) while CodeBuild throttles.
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { fail, logs } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    await fail(pipeline);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    aws.providers.codebuild.throttle('BatchGetBuilds', 20);

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const after = await record(pipeline, execution);
    expect(after?.claims).toEqual([expect.objectContaining({ occurrence: 1, status: ClaimStatus.Retried })]);
    expect(after?.skips).toEqual([expect.objectContaining({ occurrence: 2, reason: 'no-retry-rule-match' })]);
    expect(reasonsOf(logs).at(-1)).toContain('CodeBuild throttled the read');
  });

  it('makes no retry and ends the stranded claim as paused when the pipeline is paused before the redelivery', async () => {
    // Prepare
    const { pipeline, execution, clock, event } = await strandedClaim();
    await aws.policies().pause(pipeline, { updatedBy: 'test', now: new Date(clock.current) });
    aws.providers.codebuild.throttle('BatchGetBuilds', 200);

    // Act
    const { lost } = await redeliverThenWake(event, clock, 900);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const after = await record(pipeline, execution);
    expect(after?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Abandoned })]);
    expect(lost).toEqual([]);
    await aws.policies().resume(pipeline);
  });

  it('makes no retry when the policy is switched to observe before the redelivery of a stranded claim', async () => {
    // Prepare
    const { pipeline, execution, clock, event } = await strandedClaim();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { mode: 'observe' } as PolicyPatch, 'test', new Date(clock.current));

    // Act
    const { lost } = await redeliverThenWake(event, clock, 900);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const after = await record(pipeline, execution);
    expect(after?.claims.every((c) => c.status === ClaimStatus.Abandoned)).toBe(true);
    expect(lost).toEqual([]);
  });
});

// ---- B. the unread class -----------------------------------------------------------------------

describe('The class not read, in stages with several actions and rules that combine fields', () => {
  /** UnitTests and Lint both failed; `unit` and `lint` are their builds; Lint's builds answer only after UnitTests'. */
  async function twoFailed(
    policy: PolicyPatch,
    unit: Parameters<typeof aws.providers.build>[1],
    lint: Parameters<typeof aws.providers.build>[1],
  ) {
    const pipeline = await pipelineWith(policy, [second]);
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests', 'Lint']);
    const unitId = aws.providers.build(at(pipeline), unit);
    const lintId = aws.providers.build(at(pipeline, 'Lint'), lint);
    return { pipeline, execution, unitId, lintId };
  }

  /** Lint's build id is unknown to CodeBuild: its class is not read (whatever the order of the reads). */
  const unknownBuild = (pipeline: string, action = 'Lint') => {
    aws.codepipeline.action(pipeline, 'Test', action).run.externalExecutionId = `lint:${randomUUID()}`;
  };

  it('does not retry under retryOn "transient" when one of two failed builds is transient and the other is not found, and names the unread one', async () => {
    // Prepare
    const { pipeline } = await twoFailed({ retryOn: transientRules() }, { phase: 'PROVISIONING' }, { phase: 'PROVISIONING' });
    unknownBuild(pipeline);
    const { logs, fail } = setup();

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reasonsOf(logs)[0]).toMatch(/^no-retry-rule-match/);
    expect(reasonsOf(logs)[0]).toContain('Lint');
  });

  it('does not retry under neverRetryOn {class: ["test"]} when one build’s tests failed and the other is unread', async () => {
    // Prepare
    const { pipeline } = await twoFailed({ neverRetryOn: [{ class: ['test'] }] }, failedCases('totals the cart'), {
      phase: 'PROVISIONING',
    });
    unknownBuild(pipeline);
    const { logs, fail } = setup();

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reasonsOf(logs)[0]).toMatch(/^never-retry-rule/);
  });

  it('retries under neverRetryOn {class: ["test"], code: "ConfigurationError"} when the build is unread but the action’s error code is another', async () => {
    // Prepare: the rule can never match this action (its code differs), whatever the class.
    const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['test'], code: ['ConfigurationError'] }] } as PolicyPatch);
    const { fail, logs } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests'], { code: 'JobFailed', message: 'Build failed' });
    unknownBuild(pipeline, 'UnitTests');

    // Act
    await fail(pipeline);

    // Assess
    expect(reasonsOf(logs)[0]).not.toMatch(/^never-retry-rule/);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });

  it('does not retry under neverRetryOn {class: ["test"], provider: "CodeBuild"} when the CodeBuild read is throttled', async () => {
    // Prepare
    const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['test'], provider: ['CodeBuild'] }] } as PolicyPatch);
    const { fail, logs } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('renders the cart'));
    aws.providers.codebuild.throttle('BatchGetBuilds', 20);

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reasonsOf(logs)[0]).toMatch(/^never-retry-rule/);
    expect(reasonsOf(logs)[0]).toContain('could not be read');
  });

  it('retries under neverRetryOn {class: ["test"], message: "OutOfMemory"} when the build is throttled but the message does not match', async () => {
    // Prepare
    const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['test'], message: 'OutOfMemory' }] } as PolicyPatch);
    const { fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests'], { code: 'JobFailed', message: 'Build failed' });
    aws.providers.build(at(pipeline), failedCases('renders the cart'));
    aws.providers.codebuild.throttle('BatchGetBuilds', 20);

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });

  it('retries under retryOn {class: ["unknown"]} when the build is throttled, and not when the build read says test', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: [{ class: ['unknown'] }] } as PolicyPatch);
    const { fail, clock } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('renders the cart'));
    aws.providers.codebuild.throttle('BatchGetBuilds', 2);

    // Act
    await fail(pipeline);
    clock.advance(300);
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('renders the cart'));
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });

  it('retries with classifyAllFailures on and no class rule when every CodeBuild read is throttled', async () => {
    // Prepare
    process.env.CLASSIFY_ALL_FAILURES = 'true';
    const pipeline = await pipelineWith({}, [second]);
    const { fail, logs } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests', 'Lint']);
    aws.providers.build(at(pipeline), failedCases('renders the cart'));
    aws.providers.build(at(pipeline, 'Lint'), { phase: 'PROVISIONING' });
    aws.providers.codebuild.throttle('BatchGetBuilds', 50);

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.providers.codebuild.count('BatchGetBuilds')).toBeGreaterThan(0);
    expect(reasonsOf(logs)[0]).not.toMatch(/^no-retry-rule-match|^never-retry-rule/);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims[0]?.actionClasses).toBeUndefined();
  });

  it('stops as same-tests-failed when one build failed the same tests again and the other build of the stage is unread', async () => {
    // Prepare: UnitTests fails [a, b] with Lint transient; our retry re-runs both; UnitTests fails [a, b] again, Lint's build unknown.
    const pipeline = await pipelineWith({}, [second]);
    const { logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests', 'Lint']);
    aws.providers.build(at(pipeline), failedCases('a', 'b'));
    aws.providers.build(at(pipeline, 'Lint'), { phase: 'PROVISIONING' });
    await fail(pipeline);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    aws.providers.build(at(pipeline), failedCases('b', 'a'));
    unknownBuild(pipeline);

    // Act
    await fail(pipeline);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(reasonsOf(logs).at(-1)).toMatch(/^same-tests-failed: /);
    expect((await record(pipeline, execution))?.skips).toEqual([expect.objectContaining({ reason: 'same-tests-failed' })]);
  });

  it('retries at the due time with each of two failed actions keeping the class it recorded when both CodeBuild reads are throttled then', async () => {
    // Prepare: retryOn transient with a cooldown; UnitTests failed in PROVISIONING, Lint timed out: a retry is scheduled.
    const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' }, [second]);
    const { clock, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests', 'Lint']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    aws.providers.build(at(pipeline, 'Lint'), { status: 'TIMED_OUT', phase: 'BUILD' });
    await fail(pipeline);
    const scheduled = (await record(pipeline, execution))?.claims[0];
    aws.providers.codebuild.throttle('BatchGetBuilds', 40);
    clock.advance(61);
    const due = aws.sqs.takeVisible();

    // Act: at the due time both reads are throttled: each action keeps its recorded class.
    if (due) await aws.handler({ clock: clock.now })(due);

    // Assess
    expect(scheduled?.actionClasses).toEqual({ UnitTests: 'throttled', Lint: 'timeout' });
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

describe('A deployment that has not ended', () => {
  it('takes an InProgress deployment as unread (no retry under neverRetryOn deployment-health), keeps no class, and reads it again on the next delivery', async () => {
    // Prepare
    const pipeline = `advd-${randomUUID().slice(0, 8)}`;
    const configuration = { ApplicationName: 'web', DeploymentGroupName: 'fleet' };
    aws.codepipeline.createPipeline({
      name: pipeline,
      stages: [{ name: 'Deploy', actions: [{ name: 'DeployApp', category: 'Deploy', provider: 'CodeDeploy', configuration }] }],
    });
    await aws
      .policies()
      .setPolicy({ kind: 'pipeline', pipeline }, { neverRetryOn: [{ class: ['deployment-health'] }] }, 'test', new Date());
    const { logs, fail } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Deploy', ['DeployApp']);
    aws.providers.deployment(at(pipeline, 'DeployApp', 'Deploy'), { status: 'InProgress' } as Parameters<
      typeof aws.providers.deployment
    >[1]);

    // Act: the first delivery, then a redelivery once the deployment ended with a transient agent issue.
    await fail(pipeline, 'Deploy');
    const first = reasonsOf(logs).at(-1) ?? '';
    aws.providers.deployment(at(pipeline, 'DeployApp', 'Deploy'), { errorInformation: { code: 'THROTTLED', message: 'Rate exceeded' } });
    await fail(pipeline, 'Deploy');

    // Assess
    expect(first).toMatch(/^never-retry-rule/);
    expect(first).toContain('has not ended');
    expect(aws.providers.codedeploy.count('GetDeployment')).toBe(2);
    expect((await record(pipeline, execution, 'Deploy'))?.skips[0]?.actionClasses).toBeUndefined();
  });
});

describe('same-tests-failed when ListActionExecutions is throttled past its first page', () => {
  it('does not retry a second time when the same tests failed again and page 2 of the action runs is throttled (it waits and reads again, or stops)', async () => {
    // Prepare: 105 actions retried with ALL_ACTIONS, so the run our retry re-ran lies on page 2.
    const shards = shardActions(104);
    const pipeline = await pipelineWith({ retryMode: 'ALL_ACTIONS' }, shards);
    const clock = new ManualClock(Date.now());
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('a', 'b'));
    await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    clock.advance(30);
    aws.codepipeline.failStage(pipeline, 'Test', execution, ['UnitTests']);
    aws.providers.build(at(pipeline), failedCases('b', 'a'));
    // Page 1 answers; page 2 is throttled (both of the SDK's attempts).
    aws.codepipeline.injectFault('ListActionExecutions', { kind: 'throttle' }, 2, 1);

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now())]);

    // Assess
    expect(aws.codepipeline.throttled).toBe(2);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(result.lost).toEqual([]);
  });
});

describe('A PARALLEL execution’s retry at its due time', () => {
  it('waits and retries once when page 2 of the execution’s action runs is throttled at the due time', async () => {
    // Prepare
    const shards: ActionDefinition[] = Array.from({ length: 119 }, (_, i) => ({
      name: `Shard${i}`,
      category: 'Test',
      provider: 'CodeBuild',
      configuration: { ProjectName: `shard-${i}` },
    }));
    const pipeline = await pipelineWith({ cooldownSeconds: 60, jitter: 'none' } as PolicyPatch, shards, 'PARALLEL');
    const clock = new ManualClock(Date.now());
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.codepipeline.setStage(pipeline, 'Test', randomUUID(), 'InProgress', { UnitTests: 'InProgress' });
    const { run } = setup(clock);
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now(), execution));
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Scheduled })]);
    const listed = aws.codepipeline.calls.filter((c) => c.operation === 'ListActionExecutions').length;
    aws.codepipeline.injectFault('ListActionExecutions', { kind: 'throttle' }, 2, 1);

    // Act
    clock.advance(61);
    const result = await lambda.run([]);

    // Assess
    expect(listed).toBeGreaterThanOrEqual(2);
    expect(aws.codepipeline.throttled).toBe(2);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
    expect(result.lost).toEqual([]);
  });
});

// ---- C. the recorded classes at the due time ---------------------------------------------------

describe('The classes a claim recorded, at its due time', () => {
  async function scheduledTransient(extra: readonly ActionDefinition[] = []) {
    const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' }, extra);
    const setupped = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    await setupped.fail(pipeline);
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Scheduled })]);
    return { pipeline, execution, ...setupped };
  }

  it('makes no retry when the stage was re-run by hand during the wait and failed its tests while CodeBuild throttles at the due time', async () => {
    // Prepare
    const { pipeline, execution, clock, logs } = await scheduledTransient();
    aws.codepipeline.retryByHand(pipeline, 'Test');
    aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    aws.providers.build(at(pipeline), failedCases('renders the cart'));
    aws.providers.codebuild.throttle('BatchGetBuilds', 40);
    clock.advance(61);
    const due = aws.sqs.takeVisible();

    // Act
    if (due) await aws.handler({ sink: logs.sink, clock: clock.now })(due);

    // Assess
    expect(due).toBeDefined();
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    const claim = (await record(pipeline, execution))?.claims[0];
    expect(claim?.status).toBe(ClaimStatus.Abandoned);
  });

  it('makes no retry when a pipeline update added a failed action during the wait and CodeBuild throttles at the due time', async () => {
    // Prepare: the stage later shows a second failed action (Lint) the claim never saw.
    const { pipeline, execution, clock } = await scheduledTransient([second]);
    aws.codepipeline.updatePipeline(pipeline);
    aws.codepipeline.failStage(pipeline, 'Test', execution, ['UnitTests', 'Lint']);
    aws.providers.build(at(pipeline, 'Lint'), failedCases('lints'));
    aws.providers.codebuild.throttle('BatchGetBuilds', 40);
    clock.advance(61);
    const due = aws.sqs.takeVisible();

    // Act
    if (due) await aws.handler({ clock: clock.now })(due);

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect((await record(pipeline, execution))?.claims[0]?.status).toBe(ClaimStatus.Abandoned);
  });

  it('does not abandon a transient retry of a claim written without action classes (an older version) when CodeBuild throttles at the due time', async () => {
    // Prepare: the claim as an older version wrote it: a class, no actionClasses.
    const { pipeline, execution, clock, logs } = await scheduledTransient();
    const raw = new DynamoDBClient({
      endpoint: aws.dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
    });
    await raw.send(
      new UpdateItemCommand({
        TableName: aws.tableName,
        Key: marshall(TableKeys.ledger(pipeline, 'Test', execution)),
        UpdateExpression: 'REMOVE occ_1.actionClasses',
      }),
    );
    raw.destroy();
    const old = (await record(pipeline, execution))?.claims[0];
    aws.providers.codebuild.throttle('BatchGetBuilds', 40);
    clock.advance(61);
    const due = aws.sqs.takeVisible();

    // Act
    if (due) await aws.handler({ sink: logs.sink, clock: clock.now })(due);

    // Assess: the retry happens (the claim's one class stands for its one action), or it waits to read again; it is not given up.
    expect(old?.actionClasses).toBeUndefined();
    expect(old?.failureClass).toBe('throttled');
    const claim = (await record(pipeline, execution))?.claims[0];
    expect({ status: claim?.status, reason: claim?.reason, notices: noticesOf(pipeline).map((n) => n.subject) }).toEqual({
      status: expect.stringMatching(/^(retried|scheduled)$/),
      reason: expect.anything(),
      notices: [],
    });
  });
});

// ---- D. ListActionExecutions paging ------------------------------------------------------------

describe('ListActionExecutions paging under faults', () => {
  /** A PARALLEL pipeline whose Test stage has 120 actions; `execution` failed UnitTests while a later execution runs the stage. */
  async function parallelWide() {
    const shards: ActionDefinition[] = Array.from({ length: 119 }, (_, i) => ({
      name: `Shard${i}`,
      category: 'Test',
      provider: 'CodeBuild',
      configuration: { ProjectName: `shard-${i}` },
    }));
    const pipeline = await pipelineWith({}, shards, 'PARALLEL');
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    // A later execution enters the stage: the stage's latest is another's, so ours is read by its own runs (2 pages).
    aws.codepipeline.setStage(pipeline, 'Test', randomUUID(), 'InProgress', { UnitTests: 'InProgress' });
    return { pipeline, execution };
  }

  it('defers a PARALLEL execution’s failure through the delay queue when page 2 of its action runs is throttled, then retries it once', async () => {
    // Prepare
    const { pipeline, execution } = await parallelWide();
    const clock = new ManualClock(Date.now());
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    aws.codepipeline.injectFault('ListActionExecutions', { kind: 'throttle' }, 4, 1);

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now(), execution)]);

    // Assess
    expect(aws.codepipeline.throttled).toBeGreaterThan(0);
    expect(lambda.logs.decisions().map((d) => d.decision)).toContain('deferred');
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(aws.codepipeline.acceptedRetries(pipeline)[0]?.input.pipelineExecutionId).toBe(execution);
    expect(result.lost).toEqual([]);
  });

  it('retries a PARALLEL execution’s failure once, and loses nothing, when page 2 of its action runs answers HTTP 500 on every attempt of one delivery', async () => {
    // Prepare
    const { pipeline, execution } = await parallelWide();
    const clock = new ManualClock(Date.now());
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    aws.codepipeline.injectFault('ListActionExecutions', { kind: 'server-error' }, 2, 1);

    // Act
    const result = await lambda.run([aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now(), execution)]);

    // Assess
    expect(aws.codepipeline.calls.filter((c) => c.operation === 'ListActionExecutions' && c.status >= 500).length).toBe(2);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(result.lost).toEqual([]);
  });

  it('reads at most 10 pages of action runs for one look at a PARALLEL execution with more than 1,000 runs, and still retries it', async () => {
    // Prepare: 120 actions, ALL_ACTIONS retried 9 times by hand: 1,200 runs of the execution.
    const shards: ActionDefinition[] = Array.from({ length: 119 }, (_, i) => ({
      name: `Shard${i}`,
      category: 'Test',
      provider: 'CodeBuild',
      configuration: { ProjectName: `shard-${i}` },
    }));
    const pipeline = await pipelineWith({ maxRetries: 1 }, shards, 'PARALLEL');
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    for (let i = 0; i < 9; i++) {
      aws.codepipeline.retryByHand(pipeline, 'Test', 'ALL_ACTIONS');
      aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
    }
    aws.codepipeline.setStage(pipeline, 'Test', randomUUID(), 'InProgress', { UnitTests: 'InProgress' });
    const { run, clock } = setup();

    // Act
    await run(aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now(), execution));

    // Assess
    const pages = aws.codepipeline.calls.filter((c) => c.operation === 'ListActionExecutions');
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.length).toBeLessThanOrEqual(10);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

// ---- E. STS throttling of a member's CodePipeline reads -----------------------------------------

describe('STS throttling AssumeRole of a member role for the CodePipeline reads', () => {
  it('defers a member’s failure through the delay queue when STS throttles the first AssumeRole, and retries it once STS answers', async () => {
    // Prepare: a cold instance (no role assumed yet), STS throttling.
    const clock = new ManualClock(Date.now());
    aws.sts.now = () => clock.current;
    const pipeline = `advm-${randomUUID().slice(0, 8)}`;
    member().createPipeline(standardPipeline(pipeline));
    member().failNewExecution(pipeline, 'Test', ['UnitTests']);
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline, account: MEMBER.account }, {}, 'test', new Date());
    aws.sts.throttling = true;
    const lambda = new LambdaSimulator(aws, clock, { instances: 1 });
    member().now = () => clock.current;

    // Act: STS answers again before the deferred failure comes back.
    const logs = new LogCapture();
    await aws.handler({ sink: logs.sink, clock: clock.now })(member().stageFailedEvent(pipeline, 'Test', clock.now()));
    const waiting = aws.sqs.pending().length;
    aws.sts.throttling = false;
    const rest = await lambda.run([]);

    // Assess
    expect(aws.sts.throttled).toBeGreaterThan(0);
    expect(logs.decisions().map((d) => d.decision)).toEqual(['deferred']);
    expect(waiting).toBe(1);
    expect(member().acceptedRetries(pipeline)).toHaveLength(1);
    expect(rest.lost).toEqual([]);
  });

  it('reschedules a member’s due retry as throttled (no fault, the claim not left retrying) when STS throttles the AssumeRole RetryStageExecution needs at its due time, and retries it once STS answers', async () => {
    // Prepare: the retry waits an hour; by then the role's credentials are due for renewal.
    const clock = new ManualClock(Date.now());
    aws.sts.now = () => clock.current;
    const { run, logs: logsE } = setup(clock);
    const pipeline = `advm-${randomUUID().slice(0, 8)}`;
    member().createPipeline(standardPipeline(pipeline));
    const execution = member().failNewExecution(pipeline, 'Test', ['UnitTests']);
    await aws
      .policies()
      .setPolicy(
        { kind: 'pipeline', pipeline, account: MEMBER.account },
        { cooldownSeconds: 3500, jitter: 'none' } as PolicyPatch,
        'test',
        new Date(),
      );
    await run(member().stageFailedEvent(pipeline, 'Test', clock.now()));
    expect(member().acceptedRetries(pipeline)).toHaveLength(0);
    aws.sts.throttling = true;
    const lambda = new LambdaSimulator(aws, clock, { instances: 1 });
    member().now = () => clock.current;

    // Act: the due time passes while STS throttles; then STS answers again.
    clock.advance(3501);
    const due = aws.sqs.takeVisible();
    const answer = due ? ((await run(due)) as { batchItemFailures?: unknown[] } | undefined) : undefined;
    // As SQS does, a message the function reported as failed comes back.
    if (due && (answer?.batchItemFailures?.length ?? 0) > 0) aws.sqs.returnToQueue(due.Records);
    const mid = await aws.ledger().getRecord({ ...MEMBER, pipeline, stage: 'Test', executionId: execution });
    aws.sts.throttling = false;
    const rest = await lambda.run([]);

    // Assess
    expect(due).toBeDefined();
    expect(aws.sts.throttled).toBeGreaterThan(0);
    expect(member().acceptedRetries(pipeline)).toHaveLength(1);
    const end = await aws.ledger().getRecord({ ...MEMBER, pipeline, stage: 'Test', executionId: execution });
    expect(rest.lost).toEqual([]);
    expect(end?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, uncertain: false })]);
    // The throttled AssumeRole is a throttled read: the claim waits again (rescheduled), no fault, no call made.
    expect(logsE.lines.map((l) => String(l.message)).filter((m) => m.startsWith('fault'))).toEqual([]);
    expect(mid?.claims[0]?.status).toBe(ClaimStatus.Scheduled);
  });
});
