import { type ExplainedFailure, explainFailure } from '../../../cli/explain';
import type { PolicyPatch } from '../../../policy/policy';

const NOW = new Date('2026-12-02T10:00:00Z');
const FAILURE = { code: 'JobFailed', message: 'Build timed out', category: 'Test', provider: 'CodeBuild' };

describe('Function: explainFailure', () => {
  it.each<[string, PolicyPatch, string]>([
    ['no cooldown', { cooldownSeconds: 0 }, 'would retry at once'],
    ['a cooldown spread by jitter', { cooldownSeconds: 120 }, 'would retry after 2m (up to 2m30s with jitter)'],
    ['a cooldown without jitter', { cooldownSeconds: 120, jitter: 'none' }, 'would retry after 2m with'],
    ['a cooldown with full jitter', { cooldownSeconds: 3600, jitter: 'full' }, 'would retry after up to 1h (full jitter)'],
    ['a cooldown of hours and minutes', { cooldownSeconds: 5400, jitter: 'none' }, 'would retry after 1h30m with'],
  ])('says when it would retry, with %s', (_case, pipeline, expected) => {
    // Act
    const explanation = explainFailure('web-app', 'Test', { layers: { pipeline }, paused: false, problems: [] }, FAILURE, NOW);

    // Assess
    expect(explanation.summary).toContain(expected);
  });
});

describe('Function: explainFailure with failure classes', () => {
  const TRANSIENT: PolicyPatch = { retryOn: [{ class: ['infrastructure', 'timeout', 'throttled'] }] };
  const PULL = 'CodeBuild build web-app:1b2c3d4e… failed in PROVISIONING: BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE';
  const explain = (pipeline: PolicyPatch, failure: Partial<ExplainedFailure> = {}) =>
    explainFailure('web-app', 'Test', { layers: { pipeline }, paused: false, problems: [] }, { ...FAILURE, ...failure }, NOW);

  it('names the class rule that allows a classified failure, and the class with its evidence', () => {
    // Act
    const explanation = explain(TRANSIENT, { class: 'infrastructure', evidence: PULL });

    // Assess
    expect(explanation.decision).toBe('retry');
    expect(explanation.decidedBy).toBe('retryOn[0] "transient" (class infrastructure, timeout, throttled) of the pipeline policy');
    expect(explanation.classification).toEqual({ class: 'infrastructure', evidence: PULL });
  });

  it('says which class no retryOn rule covers', () => {
    // Act
    const explanation = explain(TRANSIENT, {
      class: 'test',
      evidence: 'CodeBuild build web-app:1b2c3d4e… failed in BUILD; 3 failed tests',
    });

    // Assess
    expect(explanation.decision).toBe('skip');
    expect(explanation.summary).toBe(
      'web-app/Test: would NOT retry — no-retry-rule-match: no retryOn rule matches the failure of CodeBuild Test action ' +
        '(class test: CodeBuild build web-app:1b2c3d4e… failed in BUILD; 3 failed tests)',
    );
  });

  it('names a never-retry class rule', () => {
    // Act
    const explanation = explain({ neverRetryOn: [{ class: ['test'], provider: ['CodeBuild'] }] }, { class: 'test' });

    // Assess
    expect(explanation.decidedBy).toBe('neverRetryOn[0] (class test) of the pipeline policy');
    expect(explanation.classification).toEqual({ class: 'test', evidence: 'given with --class' });
  });

  it('takes an unclassified failure as unknown when a class rule could decide, and says so', () => {
    // Act
    const explanation = explain(TRANSIENT);

    // Assess
    expect(explanation.decision).toBe('skip');
    expect(explanation.classification).toEqual({
      class: 'unknown',
      evidence: 'no class given (--class): an unclassified failure is unknown',
    });
  });

  it('says nothing of classes for a policy without class rules', () => {
    // Act
    const explanation = explain({ retryOn: [{ message: 'timed out' }] });

    // Assess
    expect(explanation.decision).toBe('retry');
    expect(explanation.classification).toBeUndefined();
  });
});
