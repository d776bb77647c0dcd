import { randomUUID } from 'node:crypto';
import { LogCapture, ManualClock } from '../../local/local-aws';
import type { PolicyPatch } from '../../policy/policy';
import { transientRules } from '../../policy/rules';
import { useLocalAws } from '../support';

/**
 * Failure classes deciding, end to end: the real handler reads the provider behind each failed
 * action (the local CodeBuild, CodeDeploy and CloudFormation, through the real SDK clients) only
 * when the policy has a `class` rule, and decides with what it tells.
 */
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0, retryMode: 'FAILED_ACTIONS' });

beforeEach(() => {
  aws.sqs.reset();
  aws.providers.reset();
});

afterEach(() => {
  aws.sqs.now = () => Date.now();
  aws.codepipeline.now = () => Date.now();
});

/** A pipeline with a CodeBuild test stage and a CodeDeploy and a CloudFormation deploy stage, under `policy`. */
async function pipelineWith(policy: PolicyPatch): Promise<string> {
  const name = `classes-${randomUUID().slice(0, 8)}`;
  aws.codepipeline.createPipeline({
    name,
    stages: [
      { name: 'Source', actions: [{ name: 'Checkout', category: 'Source', provider: 'CodeStarSourceConnection' }] },
      {
        name: 'Test',
        actions: [{ name: 'UnitTests', category: 'Test', provider: 'CodeBuild', configuration: { ProjectName: 'web-app' } }],
      },
      {
        name: 'Deploy',
        actions: [
          {
            name: 'DeployApp',
            category: 'Deploy',
            provider: 'CodeDeploy',
            configuration: { ApplicationName: 'web', DeploymentGroupName: 'fleet' },
          },
        ],
      },
      {
        name: 'Infra',
        actions: [{ name: 'Stack', category: 'Deploy', provider: 'CloudFormation', configuration: { StackName: `${name}-infra` } }],
      },
    ],
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

const reason = (logs: LogCapture) => String(logs.decisions()[0]?.reason ?? '');
const providerCalls = () => aws.providers.emulators.reduce((n, e) => n + e.calls.length, 0);
const brokenTests = { reports: [{ cases: [{ name: 'renders the cart', status: 'FAILED' as const, suite: 'cart' }] }] };

describe('Failure classes through the handler', () => {
  it('retries a CodeBuild build that failed in PROVISIONING under retryOn "transient", with one provider call', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'PROVISIONING' });

    // Act
    await fail(pipeline, 'Test');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(aws.providers.codebuild.count('BatchGetBuilds')).toBe(1);
    expect(providerCalls()).toBe(1);
  });

  it('retries a PROVISIONING failure under retryOn "transient" after its cooldown, from the delay queue, with the class it had', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60 });
    const { clock, logs, run, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'PROVISIONING' });
    await fail(pipeline, 'Test');
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);

    // Act
    clock.advance(61);
    const due = aws.sqs.takeVisible();
    expect(due).toBeDefined();
    if (due) await run(due);

    // Assess: judged again at the due time with the build's class (from the warm cache), not as unknown.
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(logs.decisions().map((l) => l.decision)).toEqual(['scheduled', 'retried']);
    expect(aws.providers.codebuild.count('BatchGetBuilds')).toBe(1);
  });

  it.each([
    ['throttles the read', (budget: number) => aws.providers.codebuild.throttle('BatchGetBuilds', budget)],
    ['fails the read with a 500', (budget: number) => aws.providers.codebuild.failWith500('BatchGetBuilds', budget)],
  ])(
    'retries a transient failure at its due time on a cold instance when CodeBuild %s, with the class recorded when it was scheduled',
    async (_case, fault) => {
      // Prepare
      const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60 });
      const { clock, logs, fail } = setup();
      aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'PROVISIONING' });
      await fail(pipeline, 'Test');
      const [scheduled] = await aws.ledger().listRecords(pipeline);
      // The emulator's image pull fails with Docker Hub's toomanyrequests: throttled, one of the transient classes.
      expect(scheduled?.claims?.[0]?.actionClasses).toEqual({ UnitTests: 'throttled' });

      // Act: another instance (no cache) takes the due message while CodeBuild cannot be read.
      clock.advance(61);
      fault(100);
      const cold = aws.handler({ sink: logs.sink, clock: clock.now });
      const due = aws.sqs.takeVisible();
      expect(due).toBeDefined();
      if (due) await cold(due);

      // Assess
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
      expect(logs.decisions().map((l) => l.decision)).toEqual(['scheduled', 'retried']);
    },
  );

  it('leaves a broken test alone under retryOn "transient", and says which class and why', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'BUILD', ...brokenTests });

    // Act
    await fail(pipeline, 'Test');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reason(logs)).toMatch(/^no-retry-rule-match/);
    expect(reason(logs)).toContain('class test');
    expect(reason(logs)).toContain('cart.renders the cart');
    expect(aws.providers.codebuild.count('BatchGetBuilds')).toBe(1);
    // DescribeTestCases filters on one status: the report's FAILED cases, then its ERROR ones.
    expect(aws.providers.codebuild.count('DescribeTestCases')).toBe(2);
  });

  it('never retries a test failure when neverRetryOn names the class', async () => {
    // Prepare
    const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['test'] }] });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'BUILD', ...brokenTests });

    // Act
    await fail(pipeline, 'Test');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reason(logs)).toMatch(/^never-retry-rule/);
  });

  it('classifies a CodeDeploy deployment stopped by its health constraints', async () => {
    // Prepare
    const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['deployment-health'] }] });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Deploy', ['DeployApp']);
    aws.providers.deployment(
      { pipeline, stage: 'Deploy', action: 'DeployApp' },
      {
        errorInformation: {
          code: 'HEALTH_CONSTRAINTS',
          message: 'The overall deployment failed because too many individual instances failed',
        },
      },
    );

    // Act
    await fail(pipeline, 'Deploy');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reason(logs)).toMatch(/^never-retry-rule/);
    expect(reason(logs)).toContain('HEALTH_CONSTRAINTS');
    expect(aws.providers.codedeploy.count('GetDeployment')).toBe(1);
  });

  it('classifies a CloudFormation resource that already exists as configuration, reading the events of the run', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: [{ class: ['infrastructure', 'throttled'] }] });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Infra', ['Stack']);
    aws.providers.stackFailure(
      { pipeline, stage: 'Infra', action: 'Stack' },
      { logicalResourceId: 'Bucket', resourceType: 'AWS::S3::Bucket', reason: 'web-assets already exists', operation: 'CREATE' },
    );

    // Act
    await fail(pipeline, 'Infra');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reason(logs)).toContain('class configuration');
    expect(reason(logs)).toContain('already exists');
    expect(aws.providers.cloudformation.count('DescribeStackEvents')).toBe(1);
  });

  it('makes no provider call for a first failure when the policy has no class rule', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: [{ category: ['Test'] }] });
    const { fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'BUILD', ...brokenTests });

    // Act
    await fail(pipeline, 'Test');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(providerCalls()).toBe(0);
  });

  it('takes a failure as unknown when CodeBuild throttles the read, and still decides and records it', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'PROVISIONING' });
    aws.providers.codebuild.throttle('BatchGetBuilds', 10);

    // Act
    await fail(pipeline, 'Test');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reason(logs)).toContain('CodeBuild throttled the read; taken as unknown');
    const [record] = await aws.ledger().listRecords(pipeline);
    expect(record?.skips?.[0]?.detail ?? JSON.stringify(record)).toContain('taken as unknown');
  });

  it('never retries under a neverRetryOn class rule when CodeBuild throttles the read, and says the class could not be read', async () => {
    // Prepare
    const pipeline = await pipelineWith({ neverRetryOn: [{ class: ['test'] }] });
    const { logs, fail } = setup();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'BUILD', ...brokenTests });
    aws.providers.codebuild.throttle('BatchGetBuilds', 100);

    // Act
    await fail(pipeline, 'Test');

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(reason(logs)).toMatch(/^never-retry-rule/);
    expect(reason(logs)).toContain('the class could not be read from the provider; taken as matching');
  });

  describe('same-tests-failed', () => {
    const cases = (...names: string[]) => ({
      phase: 'BUILD' as const,
      reports: [{ cases: names.map((name) => ({ name, status: 'FAILED' as const, suite: 'cart' })) }],
    });

    /** Fails UnitTests with `first`, lets the handler retry, then fails our retry with `second`. */
    async function failTwice(first: readonly string[], second: readonly string[]) {
      const pipeline = await pipelineWith({});
      const { logs, fail } = setup();
      const at = { pipeline, stage: 'Test', action: 'UnitTests' };
      aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build(at, cases(...first));
      await fail(pipeline, 'Test');
      const callsAfterFirst = providerCalls();
      aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
      aws.providers.build(at, cases(...second));
      const published = aws.sns.published.length;
      await fail(pipeline, 'Test');
      return { pipeline, logs, callsAfterFirst, notices: aws.sns.published.slice(published) };
    }

    it('stops retrying when our retry fails with the same tests, names them and tells operators', async () => {
      // Act
      const { pipeline, logs, callsAfterFirst, notices } = await failTwice(['a', 'b', 'c'], ['c', 'b', 'a']);

      // Assess
      expect(callsAfterFirst).toBe(0);
      // Both builds, each with its failed cases (FAILED, then ERROR).
      expect(aws.providers.codebuild.count('BatchGetBuilds')).toBe(2);
      expect(aws.providers.codebuild.count('DescribeTestCases')).toBe(4);
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
      const last = String(logs.decisions().at(-1)?.reason);
      expect(last).toBe(
        `same-tests-failed: test failures in ${pipeline}/Test (UnitTests), the same 3 tests failed twice: cart.a, cart.b, cart.c`,
      );
      expect(notices.map((n) => n.subject)).toEqual([`auto-retry: ${pipeline}/Test retries stopped`]);
      expect(notices[0]?.message).toContain('the same 3 tests failed twice: cart.a, cart.b, cart.c');
    });

    it('keeps retrying when our retry fails with a different set of tests', async () => {
      // Act
      const { pipeline, notices } = await failTwice(['a', 'b'], ['a', 'b', 'c']);

      // Assess
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
      expect(notices).toEqual([]);
    });

    it('keeps retrying when the policy overrides the built-in rule', async () => {
      // Prepare
      const pipeline = await pipelineWith({ overrideBuiltIns: ['same-tests-failed'] });
      const { fail } = setup();
      const at = { pipeline, stage: 'Test', action: 'UnitTests' };
      aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build(at, cases('a'));
      await fail(pipeline, 'Test');
      aws.codepipeline.finishRetry(pipeline, 'Test', 'Failed');
      aws.providers.build(at, cases('a'));

      // Act
      await fail(pipeline, 'Test');

      // Assess
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(2);
      expect(providerCalls()).toBe(0);
    });
  });

  describe('the ledger record', () => {
    it('keeps the class, the evidence and the failed tests on the claim, and the flaky tests at the recovery', async () => {
      // Prepare
      const pipeline = await pipelineWith({ retryOn: [{ class: ['test'] }] });
      const { run, fail, clock } = setup();
      aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'BUILD', ...brokenTests });
      await fail(pipeline, 'Test');
      aws.codepipeline.finishRetry(pipeline, 'Test', 'Succeeded');

      // Act
      await run(aws.codepipeline.stageSucceededEvent(pipeline, 'Test', clock.now()));

      // Assess
      const [record] = await aws.ledger().listRecords(pipeline);
      const test = { reportGroup: expect.stringContaining(':report/web-app-tests'), suite: 'cart', name: 'renders the cart' };
      expect(record?.claims[0]).toEqual(
        expect.objectContaining({ failureClass: 'test', evidence: expect.stringContaining('1 failed test'), failedTests: [test] }),
      );
      expect(record?.flaky).toEqual([{ ...test, stage: 'Test', at: expect.any(String) }]);
    });

    it('keeps the class, the evidence and the failed tests on a skip', async () => {
      // Prepare
      const pipeline = await pipelineWith({ retryOn: transientRules() });
      const { fail } = setup();
      aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'BUILD', ...brokenTests });

      // Act
      await fail(pipeline, 'Test');

      // Assess
      const [record] = await aws.ledger().listRecords(pipeline);
      expect(record?.skips[0]).toEqual(
        expect.objectContaining({
          reason: 'no-retry-rule-match',
          failureClass: 'test',
          failedTests: [expect.objectContaining({ suite: 'cart', name: 'renders the cart' })],
        }),
      );
      expect(record?.flaky).toEqual([]);
    });
  });
});
