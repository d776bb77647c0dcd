import { randomUUID } from 'node:crypto';
import { ClaimStatus } from '../../lambda/domain/ledger';
import type { TestCaseSpec } from '../../local/codebuild-emulator';
import type { CodePipelineEmulator } from '../../local/codepipeline/emulator';
import type { ActionDefinition } from '../../local/codepipeline/world';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { LogCapture, ManualClock, standardPipeline } from '../../local/local-aws';
import type { PolicyPatch } from '../../policy/policy';
import { transientRules } from '../../policy/rules';
import { ledgerKey, runHandlerProcess, scheduledEvent, updateContaining, useLocalAws, useOwnFaults } from './index';

/** The member account and region of a class world's organization. */
export const CLASS_MEMBER = { account: '210987654321', region: 'eu-west-1' } as const;

/** Our claim write, and our skip write, as a fault proxy sees them. */
export const claimWrite = updateContaining('SET #claim = :claim');
export const skipWrite = updateContaining('SET #skip = :skip');

/** A CodeBuild build that failed in BUILD with test cases `names` failed (suite cart). */
export const failedCases = (...names: string[]) => ({
  phase: 'BUILD' as const,
  reports: [{ cases: names.map((name): TestCaseSpec => ({ name, status: 'FAILED', suite: 'cart' })) }],
});

/** An action of a pipeline, as the provider world links it to a provider's object. */
export const at = (pipeline: string, action = 'UnitTests', stage = 'Test') => ({ pipeline, stage, action });

/** `count` more CodeBuild test actions (Shard0…), for a stage whose runs fill more than one page. */
export const shardActions = (count: number): ActionDefinition[] =>
  Array.from({ length: count }, (_, i) => ({
    name: `Shard${i}`,
    category: 'Test',
    provider: 'CodeBuild',
    configuration: { ProjectName: `shard-${i}` },
  }));

/** The reasons of the decisions a handler logged, in order. */
export const reasonsOf = (logs: LogCapture) => logs.decisions().map((d) => String(d.reason ?? ''));

/**
 * The world the failure-class reliability suites share: local AWS with our own faults, one member
 * account, the provider emulators, every emulator's faults and clocks reset around each test.
 */
export function useClassWorld() {
  const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0, retryMode: 'FAILED_ACTIONS' });
  const ownFaults = useOwnFaults(aws);
  let memberPipelines: CodePipelineEmulator | undefined;
  const member = (): CodePipelineEmulator => {
    if (!memberPipelines) throw new Error('the member account is set up in beforeAll');
    return memberPipelines;
  };

  beforeAll(async () => {
    [memberPipelines] = (await aws.organization([CLASS_MEMBER])) as [CodePipelineEmulator];
  });

  beforeEach(() => {
    aws.codepipeline.reset();
    member().reset();
    aws.providers.reset();
    aws.sqs.reset();
    aws.providers.codebuild.tenant = undefined;
    aws.sts.throttling = false;
    aws.sts.throttled = 0;
    delete process.env.CLASSIFY_ALL_FAILURES;
  });

  afterEach(() => {
    aws.sts.throttling = false;
    aws.sqs.now = () => Date.now();
    aws.codepipeline.now = () => Date.now();
    member().now = () => Date.now();
    aws.sts.now = () => Date.now();
    aws.providers.codebuild.tenant = undefined;
    delete process.env.CLASSIFY_ALL_FAILURES;
  });

  /** A central pipeline with a CodeBuild test stage (UnitTests plus `extraTests`) and a CloudFormation stage, under `policy`. */
  async function pipelineWith(policy: PolicyPatch, extraTests: readonly ActionDefinition[] = [], executionMode?: string): Promise<string> {
    const name = `advc-${randomUUID().slice(0, 8)}`;
    aws.codepipeline.createPipeline({
      name,
      ...(executionMode ? { executionMode } : {}),
      stages: [
        { name: 'Source', actions: [{ name: 'Checkout', category: 'Source', provider: 'CodeStarSourceConnection' }] },
        {
          name: 'Test',
          actions: [
            { name: 'UnitTests', category: 'Test', provider: 'CodeBuild', configuration: { ProjectName: 'web-app' } },
            ...extraTests,
          ],
        },
        {
          name: 'Infra',
          actions: [{ name: 'Stack', category: 'Deploy', provider: 'CloudFormation', configuration: { StackName: `${name}-infra` } }],
        },
      ],
    } as Parameters<typeof aws.codepipeline.createPipeline>[0]);
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline: name }, policy, 'test', new Date());
    return name;
  }

  /** A pipeline in the member account whose UnitTests failed, its run linked to a build the local CodeBuild holds. */
  async function failInMember(policy: PolicyPatch, build: Parameters<typeof aws.providers.codebuild.putBuild>[0] | undefined) {
    const pipeline = `advm-${randomUUID().slice(0, 8)}`;
    member().createPipeline(standardPipeline(pipeline));
    const execution = member().failNewExecution(pipeline, 'Test', ['UnitTests']);
    if (build) member().action(pipeline, 'Test', 'UnitTests', execution).run.externalExecutionId = aws.providers.codebuild.putBuild(build);
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline, account: CLASS_MEMBER.account }, policy, 'test', new Date());
    return { pipeline, execution };
  }

  /** A handler on a manual clock that the local services follow, its log lines captured. */
  function setup(clock = new ManualClock(Date.now())) {
    const logs = new LogCapture();
    aws.sqs.now = () => clock.current;
    aws.codepipeline.now = () => clock.current;
    member().now = () => clock.current;
    const run = aws.handler({ sink: logs.sink, clock: clock.now });
    const fail = async (pipeline: string, stage = 'Test') => run(aws.codepipeline.stageFailedEvent(pipeline, stage, clock.now()));
    return { clock, logs, run, fail };
  }

  const record = (pipeline: string, execution: string, stage = 'Test') => aws.ledger().getRecord(ledgerKey(pipeline, stage, execution));
  const noticesOf = (pipeline: string) => aws.sns.published.filter((n) => `${n.subject ?? ''}${n.message}`.includes(pipeline));

  /**
   * A failure whose first instance classified it (PROVISIONING: throttled), wrote a scheduled
   * claim and was killed before its delay message: the claim is stranded.
   */
  async function strandedClaim(policy: PolicyPatch = { retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' }) {
    const pipeline = await pipelineWith(policy);
    const clock = new ManualClock(Date.now());
    aws.codepipeline.now = () => clock.current;
    aws.sqs.now = () => clock.current;
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    const proxy = await ownFaults();
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
    const crash = await runHandlerProcess(event, { killAfter: claimWrite, proxy, now: clock.current });
    expect(crash.signal).toBe('SIGKILL');
    expect((await record(pipeline, execution))?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Scheduled })]);
    return { pipeline, execution, clock, event, proxy };
  }

  /**
   * Lambda redelivers `event` a minute later to one of two instances (what follows from it in the
   * delay queue too); then, `wakeAfter` seconds on, the reconciler runs and the instances take
   * what it sent. The invocations of each part, with what they lost.
   */
  async function redeliverThenWake(event: unknown, clock: ManualClock, wakeAfter: number) {
    const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
    clock.advance(60);
    const first = await lambda.run([event]);
    clock.advance(wakeAfter);
    await aws.handler({ clock: clock.now })(scheduledEvent(clock.now()));
    const rest = await lambda.run([]);
    return { first, rest, lost: [...first.lost, ...rest.lost] };
  }

  /** Another instance claimed the UnitTests failure at `now` (class throttled) and is retrying it, its lease two minutes. */
  function claimHeldElsewhere(pipeline: string, execution: string, now: Date) {
    return aws.ledgerStore().claim(ledgerKey(pipeline, 'Test', execution), {
      occurrence: 1,
      status: ClaimStatus.Retrying,
      retryMode: 'FAILED_ACTIONS',
      dueAt: now,
      leaseUntil: new Date(now.getTime() + 120_000),
      token: randomUUID(),
      fingerprint: 'held-elsewhere',
      maxRetries: 2,
      failedAt: now,
      now,
      failureClass: 'throttled',
      actionClasses: { UnitTests: 'throttled' },
    });
  }

  return {
    aws,
    ownFaults,
    member,
    pipelineWith,
    failInMember,
    setup,
    record,
    noticesOf,
    strandedClaim,
    redeliverThenWake,
    claimHeldElsewhere,
  };
}
