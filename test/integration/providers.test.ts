import { randomUUID } from 'node:crypto';
import { CloudFormationClient, DescribeStackEventsCommand } from '@aws-sdk/client-cloudformation';
import { BatchGetBuildsCommand, CodeBuildClient, DescribeTestCasesCommand, InvalidInputException } from '@aws-sdk/client-codebuild';
import { CodeDeployClient, DeploymentIdRequiredException, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { clientConfig } from '../../lambda/adapters/clients';
import { MAX_TEST_CASES } from '../../lambda/adapters/codebuild-reader';
import { type ProviderReader, providerReader } from '../../lambda/adapters/provider-reader';
import { ProviderRefusedError, ThrottledError, TransientFaultError } from '../../lambda/domain/errors';
import type { TestCaseSpec } from '../../local/codebuild-emulator';
import { CodePipelineEmulator } from '../../local/codepipeline/emulator';
import { standardPipeline } from '../../local/local-aws';
import { ProviderWorld } from '../../local/provider-world';

/**
 * The providers behind failed actions, read by the production adapter through the real SDK
 * clients, over HTTP, against the local CodeBuild, CodeDeploy and CloudFormation: each answer's
 * shape, paging, unknown ids, and faults as the port throws them after the SDK's own retries.
 */
const pipelines = new CodePipelineEmulator();
const world = new ProviderWorld(pipelines);
const HOME = { account: '123456789012', region: 'us-east-1' };
/** The production client settings (two attempts, as the function's provider clients have). */
const ATTEMPTS = 2;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let reader: ProviderReader;

beforeAll(async () => {
  const endpoints = await world.start();
  reader = providerReader({ ...clientConfig({ maxAttempts: ATTEMPTS }), region: HOME.region, credentials }, endpoints);
});

afterAll(async () => {
  await world.stop();
});

beforeEach(() => {
  world.reset();
  pipelines.reset();
});

/** A pipeline whose Test stage failed in UnitTests, and that action. */
function failedUnitTests(): { pipeline: string; stage: string; action: string } {
  const pipeline = `app-${randomUUID().slice(0, 8)}`;
  pipelines.createPipeline(standardPipeline(pipeline));
  pipelines.failNewExecution(pipeline, 'Test', ['UnitTests']);
  return { pipeline, stage: 'Test', action: 'UnitTests' };
}

/** A pipeline whose Deploy stage failed in its CodeDeploy action, and that action. */
function failedDeploy(): { pipeline: string; stage: string; action: string } {
  const pipeline = `web-${randomUUID().slice(0, 8)}`;
  const configuration = { ApplicationName: 'web-app', DeploymentGroupName: 'web-fleet' };
  pipelines.createPipeline({
    name: pipeline,
    stages: [{ name: 'Deploy', actions: [{ name: 'DeployApp', category: 'Deploy', provider: 'CodeDeploy', configuration }] }],
  });
  pipelines.failNewExecution(pipeline, 'Deploy', ['DeployApp']);
  return { pipeline, stage: 'Deploy', action: 'DeployApp' };
}

const cases = (n: number, status: TestCaseSpec['status'], prefix = 'test'): TestCaseSpec[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, status, suite: 'api', message: `${prefix} ${i} failed` }));

describe('Class: ProviderReader, against the local CodeBuild', () => {
  describe('Method: build', () => {
    it('answers the build that ran the action: its status, phases with their contexts, and report ARNs', async () => {
      // Prepare
      const buildId = world.build(failedUnitTests(), { phase: 'PROVISIONING', reports: [{ cases: cases(1, 'FAILED') }] });

      // Act
      const build = await reader.build(HOME, buildId);

      // Assess
      expect(build).toEqual({
        id: buildId,
        projectName: 'UnitTests',
        buildStatus: 'FAILED',
        phases: [
          { phaseType: 'SUBMITTED', phaseStatus: 'SUCCEEDED', contexts: [{ statusCode: '', message: '' }] },
          { phaseType: 'QUEUED', phaseStatus: 'SUCCEEDED', contexts: [{ statusCode: '', message: '' }] },
          {
            phaseType: 'PROVISIONING',
            phaseStatus: 'FAILED',
            contexts: [
              { statusCode: 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE', message: expect.stringContaining('CannotPullContainerError') },
            ],
          },
          { phaseType: 'FINALIZING', phaseStatus: 'SUCCEEDED', contexts: [{ statusCode: '', message: '' }] },
          { phaseType: 'COMPLETED' },
        ],
        reportArns: [expect.stringMatching(/^arn:aws:codebuild:us-east-1:123456789012:report\/UnitTests-tests:[0-9a-f-]{36}$/)],
      });
      expect(world.codebuild.count('BatchGetBuilds')).toBe(1);
    });

    it('answers a timed-out build with the phase that timed out', async () => {
      // Prepare
      const buildId = world.build(failedUnitTests(), { status: 'TIMED_OUT', phase: 'BUILD' });

      // Act
      const build = await reader.build(HOME, buildId);

      // Assess
      expect(build?.buildStatus).toBe('TIMED_OUT');
      expect(build?.phases?.find((p) => p.phaseType === 'BUILD')).toEqual({
        phaseType: 'BUILD',
        phaseStatus: 'TIMED_OUT',
        contexts: [{ statusCode: 'BUILD_TIMED_OUT', message: 'Build has timed out. ' }],
      });
    });

    it.each([
      ['an id CodeBuild does not hold', 'web-app:0b6c7a5e-8a67-4d7e-9d32-2b0f2f7f5e11'],
      ['an empty id, without asking', ''],
    ])('is undefined for %s', async (_name, id) => {
      // Act
      const build = await reader.build(HOME, id);

      // Assess
      expect(build).toBeUndefined();
      expect(world.codebuild.count('BatchGetBuilds')).toBe(id ? 1 : 0);
    });
  });

  describe('Method: failedTestCases', () => {
    it('reads the FAILED and ERROR cases of every report, page after page, and none that passed', async () => {
      // Prepare: 150 failed and 3 errored cases in one report, one failure in another, passes around them.
      const buildId = world.build(failedUnitTests(), {
        phase: 'BUILD',
        reports: [
          { group: 'unit', cases: [...cases(150, 'FAILED'), ...cases(3, 'ERROR', 'threw'), ...cases(40, 'SUCCEEDED', 'ok')] },
          { group: 'contract', cases: [...cases(1, 'FAILED', 'pact'), ...cases(5, 'SKIPPED', 'later')] },
        ],
      });
      const reportArns = (await reader.build(HOME, buildId))?.reportArns ?? [];

      // Act
      const failed = await reader.failedTestCases(HOME, reportArns);

      // Assess
      expect(failed).toHaveLength(154);
      expect(new Set(failed.map((c) => c.status))).toEqual(new Set(['FAILED', 'ERROR']));
      expect(failed.find((c) => c.name === 'threw-2')).toEqual({
        reportArn: reportArns[0],
        testSuiteName: 'api',
        prefix: 'api',
        name: 'threw-2',
        status: 'ERROR',
        message: 'threw 2 failed',
      });
      // Report one: FAILED in two pages, ERROR in one; report two: FAILED in one, ERROR (none) in one.
      expect(world.codebuild.count('DescribeTestCases')).toBe(5);
    });

    it(`stops at ${MAX_TEST_CASES} cases, the rest left unread`, async () => {
      // Prepare
      const buildId = world.build(failedUnitTests(), { phase: 'BUILD', reports: [{ cases: cases(MAX_TEST_CASES + 120, 'FAILED') }] });
      const reportArns = (await reader.build(HOME, buildId))?.reportArns ?? [];

      // Act
      const failed = await reader.failedTestCases(HOME, reportArns);

      // Assess
      expect(failed).toHaveLength(MAX_TEST_CASES);
      expect(world.codebuild.count('DescribeTestCases')).toBe(MAX_TEST_CASES / 100);
    });

    it('finds no cases in a report that no longer exists, and reads the others', async () => {
      // Prepare
      const live = world.codebuild.putReport('unit', cases(2, 'FAILED'));
      const gone = 'arn:aws:codebuild:us-east-1:123456789012:report/unit:6f1d3c0e-0000-4000-8000-000000000000';

      // Act
      const failed = await reader.failedTestCases(HOME, [gone, live]);

      // Assess
      expect(failed.map((c) => c.name)).toEqual(['test-0', 'test-1']);
    });
  });

  describe('Faults', () => {
    it('throws ThrottledError when every attempt the SDK makes is throttled, and counts each attempt', async () => {
      // Prepare
      const buildId = world.build(failedUnitTests(), { phase: 'BUILD' });
      world.codebuild.throttle('BatchGetBuilds', ATTEMPTS);

      // Act
      const read = reader.build(HOME, buildId);

      // Assess
      await expect(read).rejects.toBeInstanceOf(ThrottledError);
      expect(world.codebuild.calls.map((c) => c.error)).toEqual(['ThrottlingException', 'ThrottlingException']);
    });

    it("answers after a throttled first attempt: the SDK's own retry gets through", async () => {
      // Prepare
      const buildId = world.build(failedUnitTests(), { phase: 'BUILD' });
      world.codebuild.throttle('BatchGetBuilds', 1);

      // Act
      const build = await reader.build(HOME, buildId);

      // Assess
      expect(build?.id).toBe(buildId);
      expect(world.codebuild.count('BatchGetBuilds')).toBe(2);
    });

    it.each([
      ['HTTP 500 answers', (action: string) => world.codebuild.failWith500(action, ATTEMPTS)],
      ['dropped connections', (action: string) => world.codebuild.drop(action, ATTEMPTS)],
    ])('throws TransientFaultError, not ThrottledError, for %s', async (_name, fault) => {
      // Prepare
      const reportArn = world.codebuild.putReport('unit', cases(1, 'FAILED'));
      fault('DescribeTestCases');

      // Act
      const read = reader.failedTestCases(HOME, [reportArn]);

      // Assess
      const error = await read.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientFaultError);
      expect(error).not.toBeInstanceOf(ThrottledError);
      expect(world.codebuild.count('DescribeTestCases')).toBe(ATTEMPTS);
    });

    it('throws ProviderRefusedError for an access denied, after one attempt', async () => {
      // Prepare
      world.codebuild.injectFault('BatchGetBuilds', { kind: 'exception', name: 'AccessDeniedException', message: 'not authorized' });

      // Act
      const read = reader.build(HOME, 'web-app:0b6c7a5e-8a67-4d7e-9d32-2b0f2f7f5e11');

      // Assess
      await expect(read).rejects.toBeInstanceOf(ProviderRefusedError);
      expect(world.codebuild.count('BatchGetBuilds')).toBe(1);
    });
  });
});

describe('Class: ProviderReader, against the local CodeDeploy', () => {
  it('answers the deployment that ran the action: its status and why it failed', async () => {
    // Prepare
    const deploymentId = world.deployment(failedDeploy(), {
      errorInformation: {
        code: 'HEALTH_CONSTRAINTS',
        message: 'The overall deployment failed because too many individual instances failed',
      },
    });

    // Act
    const deployment = await reader.deployment(HOME, deploymentId);

    // Assess
    expect(deployment).toEqual({
      deploymentId,
      status: 'Failed',
      errorInformation: {
        code: 'HEALTH_CONSTRAINTS',
        message: 'The overall deployment failed because too many individual instances failed',
      },
    });
    expect(world.codedeploy.count('GetDeployment')).toBe(1);
  });

  it.each([
    ['a deployment CodeDeploy does not hold', 'd-AAAAAAAAA'],
    ['an id that is not a deployment id', 'web-app:1234'],
  ])('is undefined for %s', async (_name, id) => {
    // Act
    const deployment = await reader.deployment(HOME, id);

    // Assess
    expect(deployment).toBeUndefined();
  });

  it('throws ThrottledError when every attempt is throttled, TransientFaultError for 500s', async () => {
    // Prepare
    const deploymentId = world.deployment(failedDeploy(), { errorInformation: { code: 'TIMEOUT', message: 'timed out' } });
    world.codedeploy.throttle('GetDeployment', ATTEMPTS);
    world.codedeploy.injectFault('GetDeployment', { kind: 'server-error' }, ATTEMPTS);

    // Act
    const throttled = await reader.deployment(HOME, deploymentId).catch((e: unknown) => e);
    const failed = await reader.deployment(HOME, deploymentId).catch((e: unknown) => e);

    // Assess
    expect(throttled).toBeInstanceOf(ThrottledError);
    expect(failed).toBeInstanceOf(TransientFaultError);
    expect(failed).not.toBeInstanceOf(ThrottledError);
    expect(world.codedeploy.count('GetDeployment')).toBe(2 * ATTEMPTS);
  });
});

describe('Class: ProviderReader, against the local CloudFormation', () => {
  /** A stack whose Deploy action failed now, after `older` events of earlier operations. */
  function failedStack(older: number): { stackName: string; since: Date } {
    const pipeline = `app-${randomUUID().slice(0, 8)}`;
    pipelines.createPipeline(standardPipeline(pipeline));
    const stackName = `${pipeline}-stack`;
    const before = pipelines.now() - 86_400_000;
    world.cloudformation.putStackEvents(
      stackName,
      Array.from({ length: older }, (_, i) => ({ resourceStatus: 'UPDATE_COMPLETE', at: before + i })),
    );
    pipelines.failNewExecution(pipeline, 'Deploy', ['ExecuteChangeSet']);
    const since = new Date(pipelines.action(pipeline, 'Deploy', 'ExecuteChangeSet').run.startTime * 1000);
    world.stackFailure(
      { pipeline, stage: 'Deploy', action: 'ExecuteChangeSet' },
      { logicalResourceId: 'Api', resourceType: 'AWS::ApiGateway::RestApi', reason: 'Rate exceeded' },
    );
    return { stackName, since };
  }

  it("answers the events of the action's run, newest first, and stops at the first older one", async () => {
    // Prepare
    const { stackName, since } = failedStack(250);

    // Act
    const events = await reader.stackEvents(HOME, stackName, since);

    // Assess
    expect(events.map((e) => e.ResourceStatus)).toEqual([
      'UPDATE_ROLLBACK_COMPLETE',
      'UPDATE_COMPLETE',
      'UPDATE_ROLLBACK_IN_PROGRESS',
      'UPDATE_FAILED',
      'UPDATE_IN_PROGRESS',
      'UPDATE_IN_PROGRESS',
    ]);
    expect(events[3]).toEqual({
      Timestamp: expect.any(Date),
      LogicalResourceId: 'Api',
      ResourceType: 'AWS::ApiGateway::RestApi',
      ResourceStatus: 'UPDATE_FAILED',
      ResourceStatusReason: 'Rate exceeded',
      HookStatus: undefined,
      HookStatusReason: undefined,
    });
    // The first page (100 events) already reaches back past the run's start.
    expect(world.cloudformation.count('DescribeStackEvents')).toBe(1);
  });

  it('pages on while every event of the page is in the window', async () => {
    // Prepare: pages of 4 events; the run wrote 6, so the second page holds the first older one.
    const { stackName, since } = failedStack(20);
    world.cloudformation.eventsPerPage = 4;

    // Act
    const events = await reader.stackEvents(HOME, stackName, since);

    // Assess
    expect(events).toHaveLength(6);
    expect(world.cloudformation.count('DescribeStackEvents')).toBe(2);
  });

  it('answers no events for a stack that does not exist', async () => {
    // Act
    const events = await reader.stackEvents(HOME, 'never-deployed', new Date(0));

    // Assess
    expect(events).toEqual([]);
    expect(world.cloudformation.calls).toEqual([expect.objectContaining({ status: 400, error: 'ValidationError' })]);
  });

  it.each([
    ['Throttling (HTTP 400)', 'ThrottledError', 'throttle', ThrottledError],
    ['HTTP 500', 'TransientFaultError', 'server-error', TransientFaultError],
    ['a dropped connection', 'TransientFaultError', 'reset', TransientFaultError],
  ] as const)('throws, for %s on every attempt, %s', async (_name, _type, kind, type) => {
    // Prepare
    const { stackName, since } = failedStack(0);
    world.cloudformation.injectFault('DescribeStackEvents', { kind }, ATTEMPTS);

    // Act
    const error = await reader.stackEvents(HOME, stackName, since).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(type);
    if (type !== ThrottledError) expect(error).not.toBeInstanceOf(ThrottledError);
    expect(world.cloudformation.count('DescribeStackEvents')).toBe(ATTEMPTS);
  });
});

describe('Emulators: the wire protocols, as the SDK reads them', () => {
  /** One attempt, so each case is one request. */
  const sdk = <T>(Client: new (config: object) => T, endpoint: string): T =>
    new Client({ region: HOME.region, credentials, endpoint, maxAttempts: 1 });

  it.each([
    ['BatchGetBuilds without ids', () => sdk(CodeBuildClient, world.codebuild.endpoint).send(new BatchGetBuildsCommand({ ids: [] }))],
    [
      'DescribeTestCases with more than 100 results a page',
      () => sdk(CodeBuildClient, world.codebuild.endpoint).send(new DescribeTestCasesCommand({ reportArn: 'arn:r', maxResults: 101 })),
    ],
    [
      'DescribeTestCases with a token of another query',
      () =>
        sdk(CodeBuildClient, world.codebuild.endpoint).send(
          new DescribeTestCasesCommand({ reportArn: world.codebuild.putReport('unit', []), nextToken: 'MTAwOm90aGVy' }),
        ),
    ],
  ])("refuses %s with CodeBuild's InvalidInputException", async (_name, send) => {
    // Act
    const error = await send().catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(InvalidInputException);
  });

  it("refuses GetDeployment without an id with CodeDeploy's DeploymentIdRequiredException", async () => {
    // Act
    const error = await sdk(CodeDeployClient, world.codedeploy.endpoint)
      .send(new GetDeploymentCommand({ deploymentId: '' }))
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(DeploymentIdRequiredException);
  });

  it("answers a CloudFormation stack by its id as by its name, and Throttling as the Query protocol's 400 error", async () => {
    // Prepare
    world.cloudformation.putStackEvents('web-app', [{ resourceStatus: 'UPDATE_COMPLETE' }]);
    const client = sdk(CloudFormationClient, world.cloudformation.endpoint);
    world.cloudformation.throttle('DescribeStackEvents', 1);

    // Act
    const throttled = await client.send(new DescribeStackEventsCommand({ StackName: 'web-app' })).catch((e: unknown) => e);
    const byId = await client.send(new DescribeStackEventsCommand({ StackName: world.cloudformation.stackId('web-app') }));

    // Assess
    expect(throttled).toEqual(expect.objectContaining({ name: 'Throttling', $metadata: expect.objectContaining({ httpStatusCode: 400 }) }));
    expect(byId.StackEvents).toEqual([expect.objectContaining({ StackName: 'web-app', ResourceStatus: 'UPDATE_COMPLETE' })]);
  });
});
