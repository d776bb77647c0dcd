import { MemberRoleError, ProviderRefusedError, RoleThrottledError, ThrottledError } from '../../../../lambda/domain/errors';
import { stageRefOf } from '../../../../lambda/domain/refs';
import { failureRecordOfEvidence } from '../../../../lambda/service/evidence';
import { FailureClasses, MAX_CACHED_CLASSIFICATIONS } from '../../../../lambda/service/failure-classes';
import { BUILT_IN_POLICY, type RetryPolicy } from '../../../../policy/policy';
import { FakeProviders } from '../../../support/fake-providers';
import { FAKE_EXECUTION, failedStage, serviceWorld, stageFailure } from '../../../support/fakes';

const REPORT = 'arn:aws:codebuild:us-east-1:123456789012:report/web-app-tests:run-1';
const REF = stageRefOf(stageFailure());
const BUILD_ID = 'web-app:1b2c3d4e-0000-0000-0000-000000000000';

/** A world whose failed UnitTests action ran build BUILD_ID, and the classifier over it. */
function world() {
  const w = serviceWorld();
  const providers = new FakeProviders();
  const classes = new FailureClasses({ ...w.deps, providers });
  const view = failedStage(FAKE_EXECUTION, {}, { externalExecutionId: BUILD_ID });
  return { ...w, providers, classes, view };
}

const provisioning = {
  id: BUILD_ID,
  buildStatus: 'FAILED',
  phases: [
    {
      phaseType: 'PROVISIONING',
      phaseStatus: 'FAILED',
      contexts: [{ statusCode: 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE', message: 'CannotPullContainerError: manifest unknown' }],
    },
  ],
};

describe('Class: FailureClasses', () => {
  describe('Method: ofStage', () => {
    it('classifies each failed action from one read of its provider object, and counts it by class', async () => {
      // Prepare
      const { providers, classes, view, metrics } = world();
      providers.builds.set(BUILD_ID, provisioning);

      // Act
      const found = await classes.ofStage(REF, view);

      // Assess
      expect(found.get('UnitTests')?.class).toBe('infrastructure');
      expect(providers.calls.map((c) => c.call)).toEqual(['build']);
      expect(metrics.counts).toEqual([{ name: 'FailureClassified', dimensions: { FailureClass: 'infrastructure' } }]);
    });

    it('reads the failed test cases only when they can change the class, and keeps the tests', async () => {
      // Prepare
      const { providers, classes, view } = world();
      providers.builds.set(BUILD_ID, {
        id: BUILD_ID,
        buildStatus: 'FAILED',
        phases: [{ phaseType: 'BUILD', phaseStatus: 'FAILED', contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'exit 1' }] }],
        reportArns: [REPORT],
      });
      providers.testCases.set(REPORT, [{ reportArn: REPORT, testSuiteName: 'cart', name: 'adds an item', status: 'FAILED' }]);

      // Act
      const found = await classes.ofStage(REF, view);

      // Assess
      expect(found.get('UnitTests')?.class).toBe('test');
      expect(found.get('UnitTests')?.failedTests).toEqual([
        { reportGroup: 'arn:aws:codebuild:us-east-1:123456789012:report/web-app-tests', suite: 'cart', name: 'adds an item' },
      ]);
      expect(providers.calls.map((c) => c.call)).toEqual(['build', 'failedTestCases']);
    });

    it('asks a provider once per object on a warm instance: a redelivery reads the cache', async () => {
      // Prepare
      const { providers, classes, view } = world();
      providers.builds.set(BUILD_ID, provisioning);

      // Act
      await classes.ofStage(REF, view);
      const again = await classes.ofStage(REF, view);

      // Assess
      expect(again.get('UnitTests')?.class).toBe('infrastructure');
      expect(providers.calls).toHaveLength(1);
    });

    it("reads a stack's events since its action run started", async () => {
      // Prepare
      const { providers, classes, pipelines } = world();
      const startedAt = new Date('2026-03-01T10:00:00Z');
      pipelines.runs = [{ actionName: 'Stack', actionExecutionId: 'run-1', startedAt }];
      const view = failedStage(
        FAKE_EXECUTION,
        {},
        { name: 'Stack', provider: 'CloudFormation', executionId: 'run-1', configuration: { StackName: 'web' } },
      );

      // Act
      await classes.ofStage(REF, view);

      // Assess
      expect(providers.calls).toEqual([{ call: 'stackEvents', id: 'web', since: startedAt }]);
    });

    it('keeps at most MAX_CACHED_CLASSIFICATIONS answers, dropping the oldest', async () => {
      // Prepare
      const { providers, classes } = world();
      const viewOf = (i: number) => failedStage(FAKE_EXECUTION, {}, { externalExecutionId: `web-app:${i}` });

      // Act
      for (let i = 0; i <= MAX_CACHED_CLASSIFICATIONS; i++) await classes.ofStage(REF, viewOf(i));
      await classes.ofStage(REF, viewOf(0));

      // Assess
      expect(providers.calls).toHaveLength(MAX_CACHED_CLASSIFICATIONS + 2);
    });
  });

  describe('Method: ofAction', () => {
    it.each([
      ['throttled', new ThrottledError('BatchGetBuilds was throttled'), 'CodeBuild throttled the read; taken as unknown'],
      ['refused', new ProviderRefusedError('AccessDenied'), 'CodeBuild refused the read; taken as unknown'],
      [
        'could not reach because STS throttled the member role',
        new RoleThrottledError('STS throttled AssumeRole of arn:aws:iam::210987654321:role/AutoRetryMember-eu-west-1'),
        'CodeBuild could not be read: STS throttled AssumeRole of the member role; taken as unknown',
      ],
      [
        'could not reach because the member role was refused',
        new MemberRoleError('cannot assume the member role'),
        'CodeBuild could not be read: the member role could not be assumed; taken as unknown',
      ],
      // A malformed answer makes the reader throw a plain error (found by the adversarial review: it escaped the handler).
      [
        'answered unreadably',
        new TypeError('p.contexts?.map is not a function'),
        'CodeBuild gave an answer that could not be read; taken as unknown',
      ],
    ])('takes a read the provider %s as unknown, says so, and does not keep it', async (_case, fault, evidence) => {
      // Prepare
      const { providers, classes, view } = world();
      providers.fault = fault;
      const [action] = view.actions;
      if (!action) throw new Error('no action');

      // Act
      const first = await classes.ofAction(REF, action);
      providers.fault = undefined;
      providers.builds.set(BUILD_ID, provisioning);
      const second = await classes.ofAction(REF, action);

      // Assess
      expect(first).toEqual({ class: 'unknown', evidence, unread: true });
      expect(second.class).toBe('infrastructure');
    });

    it('classifies a Lambda action from its own error details, with no provider call', async () => {
      // Prepare
      const { providers, classes } = world();
      const [action] = failedStage(FAKE_EXECUTION, {}, { provider: 'Lambda', errorCode: 'SystemUnavailable' }).actions;
      if (!action) throw new Error('no action');

      // Act
      const found = await classes.ofAction(REF, action);

      // Assess
      expect(found.class).toBe('infrastructure');
      expect(providers.calls).toHaveLength(0);
    });
  });
});

describe('Class: FailureClasses, deciding what to read', () => {
  describe('Method: forDecision', () => {
    const failedBuild = {
      buildStatus: 'FAILED',
      phases: [{ phaseType: 'BUILD', phaseStatus: 'FAILED', contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'exit 1' }] }],
      reportArns: [REPORT],
    };
    const policy = (patch: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...BUILT_IN_POLICY, ...patch });

    /** UnitTests failed its tests in BUILD_ID after our retry of the run `run-0` (build `web-app:earlier`), both with `cases`. */
    function afterOurRetry(before: string[], after: string[]) {
      const w = world();
      const view = failedStage(FAKE_EXECUTION, {}, { externalExecutionId: BUILD_ID, executionId: 'run-1' });
      w.providers.builds.set(BUILD_ID, { ...failedBuild, id: BUILD_ID });
      w.providers.builds.set('web-app:earlier', { ...failedBuild, id: 'web-app:earlier', reportArns: [`${REPORT}-0`] });
      const cases = (arn: string, names: string[]) =>
        names.map((name) => ({ reportArn: arn, testSuiteName: 'cart', name, status: 'FAILED' }));
      w.providers.testCases.set(REPORT, cases(REPORT, after));
      w.providers.testCases.set(`${REPORT}-0`, cases(REPORT, before));
      w.pipelines.runs = [
        { actionName: 'UnitTests', actionExecutionId: 'run-1', startedAt: new Date(2), externalExecutionId: BUILD_ID },
        { actionName: 'UnitTests', actionExecutionId: 'run-0', startedAt: new Date(1), externalExecutionId: 'web-app:earlier' },
      ];
      return { ...w, view, retried: ['UnitTests:run-0'] };
    }

    it('asks no provider when the policy has no class rule and no retry of ours came before', async () => {
      // Prepare
      const { providers, classes, view } = world();

      // Act
      const evidence = await classes.forDecision(REF, { view, policy: policy(), retried: [], classifyAll: false });

      // Assess
      expect(evidence).toEqual({});
      expect(providers.calls).toEqual([]);
    });

    it('finds the same tests failed again after our retry, reading both builds and the runs once', async () => {
      // Prepare
      const { classes, view, retried, pipelines } = afterOurRetry(['a', 'b'], ['b', 'a']);

      // Act
      const evidence = await classes.forDecision(REF, { view, policy: policy(), retried, classifyAll: false });

      // Assess
      expect(evidence.sameTests).toEqual({
        action: 'UnitTests',
        tests: [expect.objectContaining({ name: 'a' }), expect.objectContaining({ name: 'b' })],
      });
      expect(pipelines.actionRunReads).toBe(1);
    });

    it('says nothing of the same tests when a different set failed', async () => {
      // Prepare
      const { classes, view, retried } = afterOurRetry(['a'], ['a', 'b']);

      // Act
      const evidence = await classes.forDecision(REF, { view, policy: policy(), retried, classifyAll: false });

      // Assess
      expect(evidence.sameTests).toBeUndefined();
      expect(evidence.classes?.get('UnitTests')?.class).toBe('test');
    });

    it('asks no provider after our retry when the policy overrides same-tests-failed', async () => {
      // Prepare
      const { classes, view, retried, providers } = afterOurRetry(['a'], ['a']);

      // Act
      const evidence = await classes.forDecision(REF, {
        view,
        policy: policy({ overrideBuiltIns: ['same-tests-failed'] }),
        retried,
        classifyAll: false,
      });

      // Assess
      expect(evidence).toEqual({});
      expect(providers.calls).toEqual([]);
    });
  });
});

describe('Function: failureRecordOfEvidence', () => {
  it('records the class that says more than unknown, and every failed test, at most 20', () => {
    // Prepare
    const tests = Array.from({ length: 25 }, (_, i) => ({ reportGroup: 'g', suite: 's', name: `t${i}` }));
    const classes = new Map([
      ['Lint', { class: 'unknown' as const, evidence: 'nothing said' }],
      ['UnitTests', { class: 'test' as const, evidence: '25 failed tests', failedTests: tests }],
    ]);

    // Act
    const record = failureRecordOfEvidence({ classes });

    // Assess
    expect(record).toEqual({
      failureClass: 'test',
      evidence: '25 failed tests',
      failedTests: tests.slice(0, 20),
      actionClasses: { Lint: 'unknown', UnitTests: 'test' },
    });
  });
});
