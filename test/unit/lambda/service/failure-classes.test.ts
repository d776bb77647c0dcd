import { ProviderRefusedError, ThrottledError } from '../../../../lambda/domain/errors';
import { stageRefOf } from '../../../../lambda/domain/refs';
import { FailureClasses, MAX_CACHED_CLASSIFICATIONS } from '../../../../lambda/service/failure-classes';
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
      expect(first).toEqual({ class: 'unknown', evidence });
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
