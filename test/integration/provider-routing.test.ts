import { CodePipelineClient, ListActionExecutionsCommand } from '@aws-sdk/client-codepipeline';
import { DEFAULT_MEMBER_ROLE_NAME, FunctionEnv, memberRoleName } from '../../contract';
import { clientConfig } from '../../lambda/adapters/clients';
import { CodePipelineAdapter } from '../../lambda/adapters/code-pipeline-adapter';
import { UNPACED } from '../../lambda/adapters/shared-rate';
import { depsFromEnvironment } from '../../lambda/dependencies';
import { ProviderRefusedError } from '../../lambda/domain/errors';
import { CodePipelineEmulator } from '../../local/codepipeline/emulator';
import { standardPipeline } from '../../local/local-aws';
import { ProviderWorld } from '../../local/provider-world';
import { StsEmulator } from '../../local/sts-emulator';

/**
 * The providers as the function gets them (depsFromEnvironment's `providers`): each read goes to
 * the pipeline's own account and region, a member's through its role, and the action a pipeline
 * reports names the provider's object the reader then finds. Every endpoint serves one account
 * and region only, as a real regional endpoint does.
 */
const HOME = { account: '123456789012', region: 'us-east-1' };
const MEMBER = { account: '210987654321', region: 'eu-west-1' };
const sts = new StsEmulator();
const homePipelines = new CodePipelineEmulator();
const home = new ProviderWorld(homePipelines);
const memberPipelines = Object.assign(new CodePipelineEmulator(), MEMBER);
const member = new ProviderWorld(memberPipelines);
const saved = { ...process.env };

beforeAll(async () => {
  const [stsEndpoint, pipelineEndpoint] = await Promise.all([sts.start(), homePipelines.start(), home.start(), member.start()]);
  sts.trustKey('local', HOME.account);
  sts.roles.add(`arn:aws:iam::${MEMBER.account}:role/${memberRoleName(DEFAULT_MEMBER_ROLE_NAME, MEMBER.region)}`);
  homePipelines.tenant = { ...HOME, accountOf: sts.accountOf };
  for (const e of home.emulators) e.tenant = { ...HOME, accountOf: sts.accountOf };
  for (const e of member.emulators) e.tenant = { ...MEMBER, accountOf: sts.accountOf };
  Object.assign(process.env, {
    AWS_REGION: HOME.region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_STS: stsEndpoint,
    AWS_ENDPOINT_URL_CODEPIPELINE: pipelineEndpoint,
    ...home.environment(),
    [FunctionEnv.TableName]: 'unused',
    [FunctionEnv.RetryQueueUrl]: 'https://sqs.local/000000000000/unused',
    [FunctionEnv.HomeAccount]: HOME.account,
    [FunctionEnv.HomeRegion]: HOME.region,
    [FunctionEnv.MemberAccounts]: MEMBER.account,
    [FunctionEnv.MemberRegions]: MEMBER.region,
  });
});

afterAll(async () => {
  process.env = saved;
  await Promise.all([sts.stop(), homePipelines.stop(), home.stop(), member.stop()]);
});

/** The providers as the function builds them, with the member region's endpoints. */
function providers() {
  return depsFromEnvironment(process.env, () => new Date(), {
    providerEndpoints: (region) => (region === MEMBER.region ? member.endpoints : undefined),
  }).providers;
}

describe('Function: depsFromEnvironment, its providers', () => {
  it('reads a build of the central account with its own credentials, at its own endpoint', async () => {
    // Prepare
    const buildId = home.codebuild.putBuild({ project: 'web-app', phase: 'PROVISIONING' });

    // Act
    const build = await providers().build(HOME, buildId);

    // Assess
    expect(build?.id).toBe(buildId);
    expect(home.codebuild.calls).toEqual([expect.objectContaining({ action: 'BatchGetBuilds', status: 200 })]);
    expect(member.codebuild.calls).toEqual([]);
  });

  it("reads a member's build, deployment and stack in its account and region, assuming its role once", async () => {
    // Prepare
    const reader = providers();
    const buildId = member.codebuild.putBuild({ project: 'web-app', phase: 'BUILD' });
    const deploymentId = member.codedeploy.putDeployment({
      applicationName: 'web-app',
      errorInformation: { code: 'IAM_ROLE_PERMISSIONS', message: 'CodeDeploy does not have the permissions required' },
    });
    member.cloudformation.putStackEvents('web-app', [{ resourceStatus: 'UPDATE_ROLLBACK_COMPLETE' }]);
    const assumedBefore = sts.assumed.length;

    // Act
    const build = await reader.build(MEMBER, buildId);
    const deployment = await reader.deployment(MEMBER, deploymentId);
    const events = await reader.stackEvents(MEMBER, 'web-app', new Date(0));

    // Assess: each endpoint checked the caller's account and region (tenant) and served it.
    expect(build?.buildStatus).toBe('FAILED');
    expect(deployment?.errorInformation?.code).toBe('IAM_ROLE_PERMISSIONS');
    expect(events.map((e) => e.ResourceStatus)).toEqual(['UPDATE_ROLLBACK_COMPLETE']);
    expect(member.emulators.flatMap((e) => e.calls).map((c) => c.status)).toEqual([200, 200, 200]);
    expect(sts.assumed.length - assumedBefore).toBe(1);
  });

  it("is refused, and says so, when a member's read reaches an endpoint that serves another account and region", async () => {
    // Prepare: no member endpoints given, so the member's read goes to the central account's.
    const reader = depsFromEnvironment(process.env, () => new Date()).providers;

    // Act
    const read = reader.deployment(MEMBER, 'd-AAAAAAAAA');

    // Assess
    await expect(read).rejects.toBeInstanceOf(ProviderRefusedError);
    expect(home.codedeploy.calls).toEqual([expect.objectContaining({ status: 403, error: 'InvalidSignatureException' })]);
    home.reset();
  });

  it("links a pipeline's failed action to its build: the externalExecutionId the pipeline reports is the build the reader finds", async () => {
    // Prepare
    homePipelines.createPipeline(standardPipeline('linked'));
    const executionId = homePipelines.failNewExecution('linked', 'Test', ['UnitTests']);
    const buildId = home.build({ pipeline: 'linked', stage: 'Test', action: 'UnitTests' }, { phase: 'DOWNLOAD_SOURCE' });
    const pipeline = new CodePipelineAdapter(new CodePipelineClient(clientConfig()), new CodePipelineClient(clientConfig()), UNPACED);
    const ref = { ...HOME, pipeline: 'linked', stage: 'Test', executionId };

    // Act
    const lookup = await pipeline.getStage(ref);
    const failed = lookup.kind === 'found' ? lookup.view.actions.find((a) => a.status === 'Failed') : undefined;
    const build = await providers().build(HOME, failed?.externalExecutionId ?? '');

    // Assess
    expect(failed).toEqual(expect.objectContaining({ name: 'UnitTests', externalExecutionId: buildId }));
    expect(build?.phases?.find((p) => p.phaseStatus === 'FAILED')?.phaseType).toBe('DOWNLOAD_SOURCE');
  });

  it('names each run of a re-run action by its own build: the latest in GetPipelineState, every one in ListActionExecutions', async () => {
    // Prepare
    homePipelines.createPipeline(standardPipeline('rerun'));
    const executionId = homePipelines.failNewExecution('rerun', 'Test', ['UnitTests']);
    const at = { pipeline: 'rerun', stage: 'Test', action: 'UnitTests' };
    const first = home.build(at, { phase: 'PROVISIONING' });
    homePipelines.retryByHand('rerun', 'Test');
    const second = home.build(at, { phase: 'BUILD' });
    homePipelines.finishRetry('rerun', 'Test', 'Failed');
    const client = new CodePipelineClient(clientConfig());
    const pipeline = new CodePipelineAdapter(client, client, UNPACED);

    // Act
    const lookup = await pipeline.getStage({ ...HOME, pipeline: 'rerun', stage: 'Test', executionId });
    const listed = await client.send(
      new ListActionExecutionsCommand({ pipelineName: 'rerun', filter: { pipelineExecutionId: executionId } }),
    );

    // Assess
    const latest = lookup.kind === 'found' ? lookup.view.actions.find((a) => a.name === 'UnitTests') : undefined;
    expect(latest?.externalExecutionId).toBe(second);
    const runs = (listed.actionExecutionDetails ?? []).filter((d) => d.actionName === 'UnitTests');
    expect(runs.map((r) => r.output?.executionResult?.externalExecutionId).sort()).toEqual([first, second].sort());
  });

  it('follows ListActionExecutions past its first page of 100, so an execution retried many times keeps its oldest runs', async () => {
    // Prepare: the Test stage's action re-run 120 times in one execution, a build for each run.
    homePipelines.createPipeline(standardPipeline('paged'));
    const executionId = homePipelines.failNewExecution('paged', 'Test', ['UnitTests']);
    const at = { pipeline: 'paged', stage: 'Test', action: 'UnitTests' };
    const first = home.build(at, { phase: 'PROVISIONING' });
    for (let i = 0; i < 120; i++) {
      homePipelines.retryByHand('paged', 'Test');
      home.build(at, { phase: 'BUILD' });
      homePipelines.finishRetry('paged', 'Test', 'Failed');
    }
    const client = new CodePipelineClient(clientConfig());
    const pipeline = new CodePipelineAdapter(client, client, UNPACED);
    const before = homePipelines.calls.length;

    // Act
    const runs = await pipeline.actionRuns({ ...HOME, pipeline: 'paged', stage: 'Test', executionId });

    // Assess
    expect(runs.filter((r) => r.actionName === 'UnitTests')).toHaveLength(121);
    expect(runs.map((r) => r.externalExecutionId)).toContain(first);
    const pages = homePipelines.calls.slice(before).filter((c) => c.operation === 'ListActionExecutions');
    expect(pages.length).toBeGreaterThanOrEqual(2);
  });
});
