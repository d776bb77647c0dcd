import { decide, SkipReason } from '../../lambda/domain/decision';
import type { RetryPolicy } from '../../lambda/domain/policy';
import { type ActionView, RetryMode, type StageFailure, type StageView } from '../../lambda/domain/types';

const FAILED_AT = new Date('2026-03-01T10:15:02Z');
const at = (secondsAfterFailure: number) => new Date(FAILED_AT.getTime() + secondsAfterFailure * 1000);

const failure: StageFailure = {
  eventId: 'e-1',
  account: '123456789012',
  region: 'us-east-1',
  pipeline: 'web-app',
  stage: 'Test',
  executionId: 'exec-1',
  occurrence: 1,
  pipelineVersion: 7,
  failedAt: FAILED_AT,
};

const action = (name: string, status: string, category = 'Test'): ActionView => ({
  name,
  category,
  provider: category === 'Approval' ? 'Manual' : 'CodeBuild',
  status,
  executionId: `${name}-run-1`,
  errorCode: status === 'Failed' ? 'JobFailed' : undefined,
  summary: undefined,
});

const failedStage: StageView = {
  pipelineVersion: 7,
  latestExecutionId: 'exec-1',
  status: 'Failed',
  actions: [action('UnitTests', 'Failed'), action('Lint', 'Succeeded')],
};

const policy: RetryPolicy = { maxRetries: 2, cooldownSeconds: 0, retryMode: RetryMode.FailedActions, mode: 'enforce' };

describe('Function: decide', () => {
  it.each<[string, Partial<StageView> | undefined, Partial<RetryPolicy>, boolean, string]>([
    ['the stage does not exist', undefined, {}, false, SkipReason.StageNotFound],
    ['the pipeline is paused', {}, {}, true, SkipReason.Paused],
    ['the policy allows no retries', {}, { maxRetries: 0 }, false, SkipReason.RetriesDisabled],
    ['a newer execution owns the stage', { latestExecutionId: 'exec-2' }, {}, false, SkipReason.Superseded],
    ['the stage runs again', { status: 'InProgress' }, {}, false, SkipReason.StageInProgress],
    ['the stage is stopping', { status: 'Stopping' }, {}, false, SkipReason.StageInProgress],
    ['an operator stopped the stage', { status: 'Stopped' }, {}, false, SkipReason.StageStopped],
    ['the stage succeeded', { status: 'Succeeded' }, {}, false, SkipReason.StageNotFailed],
    ['the stage was cancelled', { status: 'Cancelled' }, {}, false, SkipReason.StageNotFailed],
    [
      'an action still runs',
      { actions: [action('UnitTests', 'Failed'), action('Lint', 'InProgress')] },
      {},
      false,
      SkipReason.ActionInProgress,
    ],
    ['a manual approval was rejected', { actions: [action('Review', 'Failed', 'Approval')] }, {}, false, SkipReason.ApprovalRejected],
    ['no action failed', { actions: [action('UnitTests', 'Succeeded')] }, {}, false, SkipReason.NoFailedActions],
    ['the pipeline structure changed since', { pipelineVersion: 8 }, {}, false, SkipReason.PipelineChanged],
  ])('skips when %s', (_case, stagePatch, policyPatch, paused, reason) => {
    // Prepare
    const stage = stagePatch === undefined ? undefined : { ...failedStage, ...stagePatch };

    // Act
    const decision = decide(failure, stage, { ...policy, ...policyPatch }, { paused }, at(0));

    // Assess
    expect(decision).toEqual({ kind: 'skip', reason, detail: expect.any(String) });
  });

  it.each<[string, number, number, 'retry-now' | 'retry-at']>([
    ['retries at once with no cooldown', 0, 0, 'retry-now'],
    ['waits when the cooldown has not passed', 60, 10, 'retry-at'],
    ['retries at once when the cooldown passed before the event was handled', 60, 61, 'retry-now'],
    ['retries at once exactly when the cooldown ends', 60, 60, 'retry-now'],
  ])('%s', (_case, cooldownSeconds, nowSeconds, kind) => {
    // Act
    const decision = decide(failure, failedStage, { ...policy, cooldownSeconds }, { paused: false }, at(nowSeconds));

    // Assess
    expect(decision.kind).toBe(kind);
    if (decision.kind === 'retry-at') expect(decision.at).toEqual(at(cooldownSeconds));
  });

  it('carries the policy retry mode into the decision', () => {
    // Act
    const decision = decide(failure, failedStage, { ...policy, retryMode: RetryMode.AllActions }, { paused: false }, at(0));

    // Assess
    expect(decision).toEqual(expect.objectContaining({ kind: 'retry-now', retryMode: 'ALL_ACTIONS' }));
  });

  it('puts pause before every other reason, so an operator always sees why', () => {
    // Act
    const decision = decide(failure, { ...failedStage, status: 'Succeeded' }, policy, { paused: true }, at(0));

    // Assess
    expect(decision).toEqual(expect.objectContaining({ kind: 'skip', reason: SkipReason.Paused }));
  });

  it('does not compare versions when the event carries none', () => {
    // Act
    const decision = decide(
      { ...failure, pipelineVersion: undefined },
      { ...failedStage, pipelineVersion: 9 },
      policy,
      { paused: false },
      at(0),
    );

    // Assess
    expect(decision.kind).toBe('retry-now');
  });
});
