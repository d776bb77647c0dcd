import { DEFAULT_MEMBER_ROLE_NAME } from '../../contract';
import { MemberRoles, RENEW_BEFORE_SECONDS } from '../../lambda/adapters/member-roles';
import { PowertoolsMetricsAdapter } from '../../lambda/adapters/powertools';
import { stsAssumeRole } from '../../lambda/adapters/sts-assume-role';
import { MemberRoleError } from '../../lambda/domain/errors';
import { ClaimStatus } from '../../lambda/domain/ledger';
import type { CodePipelineEmulator } from '../../local/codepipeline/emulator';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { LogCapture, ManualClock, standardPipeline } from '../../local/local-aws';
import { transientRules } from '../../policy/rules';
import { ledgerKey, useLocalAws } from '../support';

/**
 * One central deployment serving a member account in another region, end to end offline: the
 * central account's CodePipeline on one endpoint, the member's on its own regional endpoint that
 * serves only the member's credentials, and a local STS that hands out the member role.
 */
const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0, retryMode: 'FAILED_ACTIONS' });
const HOME = { account: '123456789012', region: 'us-east-1' };
const MEMBER = { account: '210987654321', region: 'eu-west-1' };
let member: CodePipelineEmulator;

beforeAll(async () => {
  [member] = (await aws.organization([MEMBER])) as [CodePipelineEmulator];
});

/** A pipeline of the same name in the central account and in the member, failed in the member. */
function failInMember(stage = 'Test'): { pipeline: string; execution: string } {
  const pipeline = aws.pipeline('org');
  member.createPipeline(standardPipeline(pipeline));
  const execution = member.failNewExecution(pipeline, stage, ['UnitTests']);
  return { pipeline, execution };
}

describe('Organization: a failure in a member account', () => {
  it("is retried in the member's account and region, through the member's role", async () => {
    // Prepare
    const { pipeline, execution } = failInMember();
    const handler = aws.handler();

    // Act
    await handler(member.stageFailedEvent(pipeline, 'Test'));

    // Assess: the member's endpoint took the retry, the central one saw no call for this pipeline.
    expect(member.acceptedRetries(pipeline)).toHaveLength(1);
    expect(aws.codepipeline.calls.filter((c) => c.input.name === pipeline || c.input.pipelineName === pipeline)).toEqual([]);
    expect(aws.sts.assumed).toContain(aws.memberRoleArn(MEMBER));
    const record = await aws.ledger().getRecord(ledgerKey(`${MEMBER.account}/${MEMBER.region}/${pipeline}`, 'Test', execution));
    expect(record?.claims).toEqual([expect.objectContaining({ occurrence: 1, status: ClaimStatus.Retried })]);
  });

  it("classifies a member's failure by reading its build through the member's role", async () => {
    // Prepare: the CodeBuild endpoint serves the member's credentials only, as its regional endpoint would.
    const { pipeline, execution } = failInMember();
    await aws
      .policies()
      .setPolicy({ kind: 'pipeline', pipeline, account: MEMBER.account }, { retryOn: transientRules() }, 'test', new Date());
    const buildId = aws.providers.codebuild.putBuild({ project: 'web-app', phase: 'PROVISIONING' });
    member.action(pipeline, 'Test', 'UnitTests', execution).run.externalExecutionId = buildId;
    aws.providers.codebuild.tenant = { ...MEMBER, accountOf: aws.sts.accountOf };
    const calls = aws.providers.codebuild.calls.length;

    // Act
    try {
      await aws.handler()(member.stageFailedEvent(pipeline, 'Test'));
    } finally {
      aws.providers.codebuild.tenant = undefined;
    }

    // Assess
    expect(member.acceptedRetries(pipeline)).toHaveLength(1);
    expect(aws.providers.codebuild.calls.slice(calls)).toEqual([expect.objectContaining({ action: 'BatchGetBuilds', status: 200 })]);
  });

  it("keeps a central-account pipeline's ledger under its bare name, as a single-account deployment has it", async () => {
    // Prepare
    const pipeline = aws.pipeline('home');
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);

    // Act
    await aws.handler()(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord(ledgerKey(pipeline, 'Test', execution));
    expect(record?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
  });

  it('assumes the role once for many events of the member', async () => {
    // Prepare
    const handler = aws.handler();
    const failures = [failInMember(), failInMember(), failInMember()];
    const before = aws.sts.assumed.length;

    // Act
    for (const { pipeline } of failures) await handler(member.stageFailedEvent(pipeline, 'Test'));

    // Assess
    expect(aws.sts.assumed.length - before).toBe(1);
    for (const { pipeline } of failures) expect(member.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

describe('Class: MemberRoles, against the local STS', () => {
  it('keeps credentials until shortly before they expire, then assumes the role again', async () => {
    // Prepare
    const clock = new ManualClock(Date.now());
    aws.sts.now = () => clock.current;
    const roles = new MemberRoles(
      async () => stsAssumeRole({ region: HOME.region, endpoint: process.env.AWS_ENDPOINT_URL_STS }),
      DEFAULT_MEMBER_ROLE_NAME,
      () => clock.current,
    );
    const before = aws.sts.assumed.length;

    // Act
    const first = await roles.credentials(MEMBER);
    const again = await roles.credentials(MEMBER);
    clock.advance(3600 - RENEW_BEFORE_SECONDS + 1);
    const renewed = await roles.credentials(MEMBER);
    aws.sts.now = () => Date.now();

    // Assess
    expect(again.accessKeyId).toBe(first.accessKeyId);
    expect(renewed.accessKeyId).not.toBe(first.accessKeyId);
    expect(aws.sts.assumed.slice(before)).toEqual([aws.memberRoleArn(MEMBER), aws.memberRoleArn(MEMBER)]);
    expect(aws.sts.accountOf(renewed.accessKeyId)).toBe(MEMBER.account);
  });
});

describe('Organization: events the deployment does not serve', () => {
  it('refuses an event from an account outside the member list: logged, no call, nothing written', async () => {
    // Prepare
    const { pipeline, execution } = failInMember();
    const event = member.stageFailedEvent(pipeline, 'Test');
    event.account = '999999999999';
    const log = new LogCapture();
    const callsBefore = member.calls.length;

    // Act
    await aws.handler({ sink: log.sink })(event);

    // Assess
    expect(member.calls.length).toBe(callsBefore);
    expect(log.decisions()).toEqual([
      expect.objectContaining({ decision: 'skipped', account: '999999999999', reason: expect.stringContaining('not-a-member') }),
    ]);
    expect(await aws.ledger().getRecord(ledgerKey(`999999999999/${MEMBER.region}/${pipeline}`, 'Test', execution))).toBeUndefined();
  });

  it('keeps the event when the member role cannot be assumed, with a message naming the role, and retries once it can', async () => {
    // Prepare: a member whose stack is not deployed yet (no role).
    const region = 'ap-south-1';
    const [late] = (await aws.organization([{ account: MEMBER.account, region }], {
      accounts: [MEMBER.account],
    })) as [CodePipelineEmulator];
    process.env.MEMBER_REGIONS = `${MEMBER.region},${region}`;
    aws.sts.roles.delete(aws.memberRoleArn({ account: MEMBER.account, region }));
    const pipeline = aws.pipeline('late');
    late.createPipeline(standardPipeline(pipeline));
    late.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = late.stageFailedEvent(pipeline, 'Test');
    const handler = aws.handler();

    // Act
    const first = handler(event);
    await expect(first).rejects.toThrow(MemberRoleError);
    await expect(first).rejects.toThrow(`arn:aws:iam::${MEMBER.account}:role/codepipeline-auto-retry-member-${region}`);
    aws.sts.roles.add(aws.memberRoleArn({ account: MEMBER.account, region }));
    await handler(event);

    // Assess
    expect(late.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

describe('Organization: policies and pause switches by account', () => {
  it("applies an account's defaults and a policy for the pipeline in one account, not to the same name elsewhere", async () => {
    // Prepare
    const { pipeline } = failInMember();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    await aws.policies().setPolicy({ kind: 'account', account: MEMBER.account }, { maxRetries: 5 }, 'test', new Date());
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline, account: MEMBER.account }, { maxRetries: 0 }, 'test', new Date());
    const log = new LogCapture();

    // Act
    await aws.handler({ sink: log.sink })(member.stageFailedEvent(pipeline, 'Test'));
    await aws.handler()(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));

    // Assess: the member's copy is not retried, the central one is.
    expect(member.acceptedRetries(pipeline)).toHaveLength(0);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    expect(log.decisions()).toEqual([expect.objectContaining({ decision: 'skipped', account: MEMBER.account })]);
    const resolved = await aws.policies().load(pipeline, 'Test', MEMBER.account);
    expect(resolved.layers).toEqual(expect.objectContaining({ account: { maxRetries: 5 }, pipeline: { maxRetries: 0 } }));
    await aws.policies().deletePolicy({ kind: 'account', account: MEMBER.account });
  });

  it('pauses every pipeline of one account and no other', async () => {
    // Prepare
    const { pipeline } = failInMember();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    await aws.policies().pause(`account:${MEMBER.account}`, { updatedBy: 'test', now: new Date() });

    // Act
    await aws.handler()(member.stageFailedEvent(pipeline, 'Test'));
    await aws.handler()(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
    await aws.policies().resume(`account:${MEMBER.account}`);

    // Assess
    expect(member.acceptedRetries(pipeline)).toHaveLength(0);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
  });
});

describe('Organization: throttling per account and region', () => {
  it("defers a member's failure when the member's CodePipeline throttles, while the central account's is retried at once", async () => {
    // Prepare: the member's quota is spent; the central account's is not.
    const { pipeline } = failInMember();
    aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    member.setRateLimit({ perSecond: 0.001, burst: 0 });
    aws.sqs.reset();
    const handler = aws.handler();

    // Act
    try {
      await handler(member.stageFailedEvent(pipeline, 'Test'));
      await handler(aws.codepipeline.stageFailedEvent(pipeline, 'Test'));
    } finally {
      member.setRateLimit(undefined);
    }

    // Assess: the member's failure waits in the delay queue; nothing was lost or thrown.
    expect(member.acceptedRetries(pipeline)).toHaveLength(0);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const waiting = aws.sqs.pending().map((m) => JSON.parse(m.body) as { kind?: string; failure?: { account?: string } });
    expect(waiting).toEqual([expect.objectContaining({ kind: 'event', failure: expect.objectContaining({ account: MEMBER.account }) })]);
  });
});

describe('Organization: faults in a member account', () => {
  it('makes exactly one retry in the member when its answer is lost after it took effect', async () => {
    // Prepare: one retry allowed for this pipeline in the member account only.
    const { pipeline, execution } = failInMember();
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline, account: MEMBER.account }, { maxRetries: 1 }, 'test', new Date());
    member.injectFault('RetryStageExecution', { kind: 'accepted-then-500' });
    const clock = new ManualClock(Date.now());
    member.now = () => clock.current;
    const lambda = new LambdaSimulator(aws, clock, { instances: 4 });

    // Act: the retry is accepted but its answer lost; the retried stage fails again; all settles.
    let lost: unknown[] = [];
    try {
      lost = [...(await lambda.run([member.stageFailedEvent(pipeline, 'Test', clock.now())])).lost];
      member.finishRetry(pipeline, 'Test', 'Failed');
      lost = [...lost, ...(await lambda.run([member.stageFailedEvent(pipeline, 'Test', clock.now())])).lost];
    } finally {
      member.now = () => Date.now();
      aws.codepipeline.now = () => Date.now();
      aws.sqs.now = () => Date.now();
    }

    // Assess
    expect(lost).toEqual([]);
    expect(member.acceptedRetries(pipeline)).toHaveLength(1);
    expect(member.acceptedRetries(pipeline)[0]?.lostReply).toBe('500');
    const record = await aws.ledger().getRecord({ ...MEMBER, pipeline, stage: 'Test', executionId: execution });
    expect(record?.claims).toEqual([expect.objectContaining({ occurrence: 1, status: ClaimStatus.Retried })]);
    expect(record?.skips).toEqual([expect.objectContaining({ occurrence: 2, reason: 'max-retries' })]);
  });
});

describe('Organization: metrics', () => {
  it('counts per Account and carries the region in every EMF document', async () => {
    // Prepare
    const { pipeline } = failInMember();
    const docs: Record<string, unknown>[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split('\n')) if (line.includes('"_aws"')) docs.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    });

    // Act
    try {
      await aws.handler({ sink: new LogCapture().sink, metrics: new PowertoolsMetricsAdapter({ accountDimension: true }) })(
        member.stageFailedEvent(pipeline, 'Test'),
      );
    } finally {
      spy.mockRestore();
    }

    // Assess
    expect(docs).toEqual([
      expect.objectContaining({ RetryAttempted: 1, account: MEMBER.account, region: MEMBER.region, pipeline }),
      expect.objectContaining({ RetryAttempted: 1, Account: MEMBER.account, region: MEMBER.region }),
    ]);
  });
});

describe('Organization: the member endpoint', () => {
  it("refuses the central account's own credentials, so a call that skipped the role could not pass", async () => {
    // Prepare
    const { CodePipelineClient, GetPipelineStateCommand } = await import('@aws-sdk/client-codepipeline');
    const client = new CodePipelineClient({ region: MEMBER.region, endpoint: member.endpoint });
    const pipeline = aws.pipeline('guard');
    member.createPipeline(standardPipeline(pipeline));

    // Act
    const call = client.send(new GetPipelineStateCommand({ name: pipeline }));

    // Assess
    await expect(call).rejects.toThrow(`credentials of account ${HOME.account} used at the endpoint of account ${MEMBER.account}`);
  });
});
