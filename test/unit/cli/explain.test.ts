import { explainFailure } from '../../../cli/explain';
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
