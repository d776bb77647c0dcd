import { type DecisionContext, decide, retryDelaySeconds } from '../../../../lambda/domain/decision';
import { SkipReason } from '../../../../lambda/domain/reasons';
import type { ActionView, StageFailure, StageView } from '../../../../lambda/domain/types';
import { BUILT_IN_POLICY, type PolicyPatch, type RetryPolicy, resolvePolicy } from '../../../../policy/policy';

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

const action = (name: string, status: string, extra: Partial<ActionView> = {}): ActionView => ({
  name,
  category: 'Test',
  provider: 'CodeBuild',
  actionMode: undefined,
  status,
  executionId: `${name}-run-1`,
  errorCode: status === 'Failed' ? 'JobFailed' : undefined,
  errorMessage: status === 'Failed' ? 'Build timed out' : undefined,
  summary: undefined,
  ...extra,
});

const failedStage: StageView = {
  pipelineVersion: 7,
  latestExecutionId: 'exec-1',
  status: 'Failed',
  actions: [action('UnitTests', 'Failed'), action('Lint', 'Succeeded')],
  onFailure: undefined,
  retryMetadata: undefined,
};

/** The default layer: maxRetries 2, no cooldown, as most rows expect. */
const DEFAULT_LAYER: PolicyPatch = { maxRetries: 2, cooldownSeconds: 0, jitter: 'none' };
const resolved = (patch: PolicyPatch = {}, layer: 'default' | 'pipeline' = 'default') =>
  resolvePolicy(layer === 'default' ? { default: { ...DEFAULT_LAYER, ...patch } } : { default: DEFAULT_LAYER, pipeline: patch });
const context = (extra: Partial<DecisionContext> = {}): DecisionContext => ({
  paused: false,
  ledger: { retries: 0, firstFailureAt: undefined },
  random: () => 0.5,
  ...extra,
});

describe('Function: decide with failure classes', () => {
  it.each<[string, PolicyPatch, DecisionContext['classes'], string]>([
    [
      'names the class and its evidence when no retryOn rule covers it',
      { retryOn: [{ class: ['infrastructure', 'timeout', 'throttled'] }] },
      new Map([['UnitTests', { class: 'test', evidence: 'CodeBuild build web-app:1b2c3d4e… failed in BUILD' }]]),
      'no retryOn rule matches the failure of UnitTests (class test: CodeBuild build web-app:1b2c3d4e… failed in BUILD)',
    ],
    [
      'says the class is unknown when the action has no classification',
      { neverRetryOn: [{ class: ['unknown'] }] },
      undefined,
      'neverRetryOn[0] matches the failure of UnitTests (class unknown)',
    ],
  ])('%s', (_case, patch, classes, detail) => {
    // Act
    const decision = decide(failure, failedStage, resolved(patch), context({ classes }), FAILED_AT);

    // Assess
    expect(decision).toEqual({ kind: 'skip', reason: expect.any(String), detail });
  });

  it('retries a failure whose class retryOn names', () => {
    // Act
    const decision = decide(
      failure,
      failedStage,
      resolved({ retryOn: [{ class: ['timeout'] }] }),
      context({ classes: new Map([['UnitTests', { class: 'timeout', evidence: 'timed out' }]]) }),
      FAILED_AT,
    );

    // Assess
    expect(decision.kind).toBe('retry-now');
  });
});

describe('Function: decide with the same tests failed twice', () => {
  const test = (name: string) => ({ reportGroup: 'arn:aws:codebuild:us-east-1:123456789012:report/web-app-tests', suite: 'cart', name });

  it.each<[string, number, string]>([
    ['names one test', 1, 'the same test failed twice: cart.t0'],
    ['names up to five tests', 5, 'the same 5 tests failed twice: cart.t0, cart.t1, cart.t2, cart.t3, cart.t4'],
    ['says how many more there are after five', 7, 'the same 7 tests failed twice: cart.t0, cart.t1, cart.t2, cart.t3, cart.t4 and 2 more'],
  ])('stops retrying and %s', (_case, n, named) => {
    // Prepare
    const tests = Array.from({ length: n }, (_, i) => test(`t${i}`));

    // Act
    const decision = decide(failure, failedStage, resolved(), context({ sameTests: { action: 'UnitTests', tests } }), FAILED_AT);

    // Assess
    expect(decision).toEqual({
      kind: 'skip',
      reason: SkipReason.SameTestsFailed,
      detail: `test failures in web-app/Test (UnitTests), ${named}`,
    });
  });

  it('retries anyway when the policy overrides the built-in rule', () => {
    // Act
    const decision = decide(
      failure,
      failedStage,
      resolved({ overrideBuiltIns: ['same-tests-failed'] }),
      context({ sameTests: { action: 'UnitTests', tests: [test('a')] } }),
      FAILED_AT,
    );

    // Assess
    expect(decision.kind).toBe('retry-now');
  });
});

describe('Function: decide', () => {
  it.each<[string, Partial<StageView> | undefined, PolicyPatch, Partial<DecisionContext>, string]>([
    ['the stage does not exist', undefined, {}, {}, SkipReason.StageNotFound],
    ['the pipeline is paused', {}, {}, { paused: true }, SkipReason.Paused],
    ['the policy allows no retries', {}, { maxRetries: 0 }, {}, SkipReason.RetriesDisabled],
    ['a newer execution owns the stage', { latestExecutionId: 'exec-2' }, {}, {}, SkipReason.Superseded],
    ['the stage runs again', { status: 'InProgress' }, {}, {}, SkipReason.StageInProgress],
    ['the stage is stopping', { status: 'Stopping' }, {}, {}, SkipReason.StageInProgress],
    ['an operator stopped the stage', { status: 'Stopped' }, {}, {}, SkipReason.StageStopped],
    ['the stage succeeded', { status: 'Succeeded' }, {}, {}, SkipReason.StageNotFailed],
    ['the stage was cancelled', { status: 'Cancelled' }, {}, {}, SkipReason.StageNotFailed],
    [
      'an action still runs',
      { actions: [action('UnitTests', 'Failed'), action('Lint', 'InProgress')] },
      {},
      {},
      SkipReason.ActionInProgress,
    ],
    [
      'a manual approval was rejected',
      { actions: [action('Review', 'Failed', { category: 'Approval' })] },
      {},
      {},
      SkipReason.ApprovalRejected,
    ],
    ['no action failed', { actions: [action('UnitTests', 'Succeeded')] }, {}, {}, SkipReason.NoFailedActions],
    ['the pipeline structure changed since', { pipelineVersion: 8 }, {}, {}, SkipReason.PipelineChanged],
    [
      "the stage's own onFailure retry has not run yet",
      { onFailure: { result: 'RETRY', conditional: false } },
      {},
      {},
      SkipReason.NativeRetryPending,
    ],
    ["the stage's onFailure is ROLLBACK", { onFailure: { result: 'ROLLBACK', conditional: false } }, {}, {}, SkipReason.RollbackConfigured],
    ['our retries are used up', {}, {}, { ledger: { retries: 2, firstFailureAt: FAILED_AT } }, SkipReason.MaxRetries],
    [
      'native and hand-made retries count and use up the rest',
      { retryMetadata: { automatic: 1, manual: 2 } },
      { countManualRetries: true },
      { ledger: { retries: 1, firstFailureAt: FAILED_AT } },
      SkipReason.MaxRetries,
    ],
    [
      'the retry window has passed',
      {},
      { maxRetryWindowSeconds: 600 },
      { ledger: { retries: 1, firstFailureAt: at(-601) } },
      SkipReason.RetryWindowPassed,
    ],
    [
      'the retry would come due after the window closes',
      {},
      { maxRetryWindowSeconds: 600, cooldownSeconds: 300 },
      { ledger: { retries: 1, firstFailureAt: at(-400) } },
      SkipReason.RetryWindowPassed,
    ],
    ['a never-retry rule matches', {}, { neverRetryOn: [{ code: ['JobFailed'], message: 'timed out' }] }, {}, SkipReason.NeverRetryRule],
    ['no retryOn rule matches', {}, { retryOn: [{ category: ['Deploy'] }] }, {}, SkipReason.NoRetryRuleMatch],
    [
      'neverRetryOn and retryOn both match (never wins)',
      {},
      { retryOn: [{ provider: ['CodeBuild'] }], neverRetryOn: [{ message: 'TIMED OUT' }] },
      {},
      SkipReason.NeverRetryRule,
    ],
    [
      'one of two failed actions is not covered by retryOn',
      { actions: [action('UnitTests', 'Failed'), action('Lint', 'Failed', { errorMessage: 'lint errors' })] },
      { retryOn: [{ message: 'timed out' }] },
      {},
      SkipReason.NoRetryRuleMatch,
    ],
  ])('skips when %s', (_case, stagePatch, policyPatch, contextPatch, reason) => {
    // Prepare
    const stage = stagePatch === undefined ? undefined : { ...failedStage, ...stagePatch };

    // Act
    const decision = decide(failure, stage, resolved(policyPatch), context(contextPatch), at(0));

    // Assess
    expect(decision).toEqual({ kind: 'skip', reason, detail: expect.any(String) });
  });

  it.each<[string, Partial<StageView>, PolicyPatch, Partial<DecisionContext>]>([
    ['a plain failure', {}, {}, {}],
    [
      'a failure a retryOn rule covers',
      {},
      { retryOn: [{ category: ['Test'], provider: ['codebuild'], message: 'timed out|ECONNRESET' }] },
      {},
    ],
    [
      'a rejected approval when the policy overrides that rule',
      { actions: [action('Review', 'Failed', { category: 'Approval' })] },
      { overrideBuiltIns: ['approval-rejected'] },
      {},
    ],
    [
      'a stage stopped by an operator when the policy overrides that rule',
      { status: 'Stopped', actions: [action('UnitTests', 'Abandoned')] },
      { overrideBuiltIns: ['stage-stopped'] },
      {},
    ],
    [
      'a stage whose own onFailure retry already ran',
      { onFailure: { result: 'RETRY', conditional: false }, retryMetadata: { automatic: 1, manual: 0 } },
      {},
      {},
    ],
    [
      'a stage whose own retry did not come within the wait',
      { onFailure: { result: 'RETRY', conditional: true } },
      {},
      { nativeWaitOver: true },
    ],
    [
      'native retries that do not count by default',
      { retryMetadata: { automatic: 1, manual: 5 } },
      {},
      { ledger: { retries: 1, firstFailureAt: FAILED_AT } },
    ],
    ['a failure inside the retry window', {}, { maxRetryWindowSeconds: 600 }, { ledger: { retries: 1, firstFailureAt: at(-500) } }],
  ])('retries %s', (_case, stagePatch, policyPatch, contextPatch) => {
    // Act
    const decision = decide(failure, { ...failedStage, ...stagePatch }, resolved(policyPatch), context(contextPatch), at(0));

    // Assess
    expect(decision.kind).toBe('retry-now');
  });

  it.each<[string, number, number, 'retry-now' | 'retry-at']>([
    ['retries at once with no cooldown', 0, 0, 'retry-now'],
    ['waits when the cooldown has not passed', 60, 10, 'retry-at'],
    ['retries at once when the cooldown passed before the event was handled', 60, 61, 'retry-now'],
    ['retries at once exactly when the cooldown ends', 60, 60, 'retry-now'],
  ])('%s', (_case, cooldownSeconds, nowSeconds, kind) => {
    // Act
    const decision = decide(failure, failedStage, resolved({ cooldownSeconds }), context(), at(nowSeconds));

    // Assess
    expect(decision.kind).toBe(kind);
    if (decision.kind === 'retry-at') expect(decision.at).toEqual(at(cooldownSeconds));
  });

  it('backs off: the third retry of a 1m cooldown with backoff 2 waits 4m', () => {
    // Act
    const decision = decide(
      failure,
      failedStage,
      resolved({ maxRetries: 5, cooldownSeconds: 60, backoff: 2 }),
      context({ ledger: { retries: 2, firstFailureAt: FAILED_AT } }),
      at(0),
    );

    // Assess
    expect(decision).toEqual(expect.objectContaining({ kind: 'retry-at', at: at(240), attempt: 3 }));
  });

  it('defaults change-set deploy stages to ALL_ACTIONS and says so', () => {
    // Prepare
    const deploy: StageView = {
      ...failedStage,
      actions: [
        action('CreateChangeSet', 'Succeeded', { category: 'Deploy', provider: 'CloudFormation', actionMode: 'CHANGE_SET_REPLACE' }),
        action('ExecuteChangeSet', 'Failed', { category: 'Deploy', provider: 'CloudFormation', actionMode: 'CHANGE_SET_EXECUTE' }),
      ],
    };

    // Act
    const byDefault = decide(failure, deploy, resolved({ retryMode: 'FAILED_ACTIONS' }), context(), at(0));
    const chosen = decide(failure, deploy, resolved({ retryMode: 'FAILED_ACTIONS' }, 'pipeline'), context(), at(0));

    // Assess
    expect(byDefault).toEqual(
      expect.objectContaining({ retryMode: 'ALL_ACTIONS', reason: expect.stringContaining('change-set deploy stage default') }),
    );
    expect(chosen).toEqual(expect.objectContaining({ retryMode: 'FAILED_ACTIONS' }));
  });

  it('leaves our own retries only what native and hand-made retries did not use, when they count', () => {
    // Act
    const decision = decide(
      failure,
      { ...failedStage, retryMetadata: { automatic: 1, manual: 1 } },
      resolved({ maxRetries: 4, countManualRetries: true }),
      context({ ledger: { retries: 0, firstFailureAt: undefined } }),
      at(0),
    );

    // Assess: one native and one by hand count, so we may make 2 of the 4 and this is number 3.
    expect(decision).toEqual(expect.objectContaining({ kind: 'retry-now', allowedRetries: 2, attempt: 3 }));
  });

  it('puts pause before every other reason, so an operator always sees why', () => {
    // Act
    const decision = decide(failure, { ...failedStage, status: 'Succeeded' }, resolved(), context({ paused: true }), at(0));

    // Assess
    expect(decision).toEqual(expect.objectContaining({ kind: 'skip', reason: SkipReason.Paused }));
  });
});

describe('Function: retryDelaySeconds', () => {
  const policy = (patch: Partial<RetryPolicy>): RetryPolicy => ({ ...BUILT_IN_POLICY, jitter: 'none', ...patch });

  it.each<[string, Partial<RetryPolicy>, number, number, number]>([
    ['a constant cooldown', { cooldownSeconds: 60 }, 3, 60, 0.25],
    ['backoff 2, first retry', { cooldownSeconds: 60, backoff: 2 }, 1, 60, 0.25],
    ['backoff 2, second retry', { cooldownSeconds: 60, backoff: 2 }, 2, 120, 0.25],
    ['backoff 2, fourth retry', { cooldownSeconds: 60, backoff: 2 }, 4, 480, 0.25],
    ['a cap', { cooldownSeconds: 60, backoff: 3, maxCooldownSeconds: 300 }, 4, 300, 0.25],
    ['no cooldown, whatever the backoff', { cooldownSeconds: 0, backoff: 5 }, 3, 0, 0.25],
    ['full jitter takes a random share', { cooldownSeconds: 100, jitter: 'full' }, 1, 25, 0.25],
    ['spread adds a random share of up to a quarter', { cooldownSeconds: 100, jitter: 'spread' }, 1, 106, 0.25],
    ['spread never waits less than the cooldown', { cooldownSeconds: 100, jitter: 'spread' }, 1, 100, 0],
    ['spread is on unless a policy says otherwise', { cooldownSeconds: 60, jitter: BUILT_IN_POLICY.jitter }, 1, 64, 0.25],
  ])('computes %s', (_case, patch, attempt, expected, random) => {
    // Act / Assess
    expect(retryDelaySeconds(policy(patch), attempt, () => random)).toBe(expected);
  });
});
