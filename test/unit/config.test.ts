import { ConfigurationError } from '../../lambda/domain/errors';
import { parseAutoRetryConfig } from '../../lib/config';

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseAutoRetryConfig(raw);
  } catch (error) {
    if (error instanceof ConfigurationError) return error.problems;
    throw error;
  }
  return [];
}

describe('Function: parseAutoRetryConfig', () => {
  it('turns cdk.json configuration into policies for the table', () => {
    // Act
    const config = parseAutoRetryConfig({
      watch: ['web-app'],
      default: { maxRetries: 2, cooldown: '1m' },
      pipelines: { 'web-app': { maxRetries: 3, stages: { Deploy: { retryMode: 'ALL_ACTIONS', cooldown: 300 } } } },
      ledgerRetentionDays: 7,
    });

    // Assess
    expect(config).toEqual({
      watch: ['web-app'],
      ledgerRetentionDays: 7,
      emails: [],
      slack: undefined,
      exhaustedPerHour: 5,
      metricPipelines: ['web-app'],
      policies: [
        { scope: { kind: 'default' }, patch: { maxRetries: 2, cooldownSeconds: 60 } },
        { scope: { kind: 'pipeline', pipeline: 'web-app' }, patch: { maxRetries: 3 } },
        { scope: { kind: 'stage', pipeline: 'web-app', stage: 'Deploy' }, patch: { retryMode: 'ALL_ACTIONS', cooldownSeconds: 300 } },
      ],
    });
  });

  it('watches every pipeline when nothing is configured', () => {
    expect(parseAutoRetryConfig(undefined)).toEqual({
      watch: 'all',
      policies: [],
      ledgerRetentionDays: 30,
      emails: [],
      slack: undefined,
      exhaustedPerHour: 5,
      metricPipelines: [],
    });
  });

  it.each<[string, unknown, unknown[]]>([
    [
      'a negative maxRetries',
      { pipelines: { 'web-app': { maxRetries: -1 } } },
      ['autoRetry.pipelines.web-app.maxRetries must be an integer from 0 to 10, got -1'],
    ],
    [
      'a misspelt key',
      { default: { maxRetry: 1 } },
      [
        'autoRetry.default.maxRetry is not a known setting (expected one of: maxRetries, cooldown, backoff, maxCooldown, jitter, maxRetryWindow, retryMode, mode, retryOn, neverRetryOn, countManualRetries, budget, overrideBuiltIns)',
      ],
    ],
    [
      'a bad stage cooldown',
      { pipelines: { api: { stages: { Test: { cooldown: 'soon' } } } } },
      ['autoRetry.pipelines.api.stages.Test.cooldown must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got "soon"'],
    ],
    [
      'a watch that is neither "all" nor a list',
      { watch: 'some' },
      ['autoRetry.watch must be "all" or a non-empty list of pipeline names, got "some"'],
    ],
    [
      'a bad pipeline name in watch',
      { watch: ['ok', 'not ok'] },
      ['autoRetry.watch[1] must be a pipeline name ([A-Za-z0-9.@-_], 1-100 characters), got "not ok"'],
    ],
    [
      'a policy for an unwatched pipeline',
      { watch: ['a'], pipelines: { b: { maxRetries: 1 } } },
      ['autoRetry.pipelines.b has a policy but b is not in autoRetry.watch, so it would never be retried'],
    ],
    [
      'a ledger retention of 0 days',
      { ledgerRetentionDays: 0 },
      ['autoRetry.ledgerRetentionDays must be an integer from 1 to 3650, got 0'],
    ],
    ['a non-object', 'yes', ['autoRetry must be an object, got "yes"']],
  ])('refuses %s with a message naming the key and the value', (_case, raw, expected) => {
    expect(problemsOf(raw)).toEqual(expected);
  });

  it('reports every problem at once', () => {
    // Act
    const problems = problemsOf({ default: { maxRetries: 20, retryMode: 'SOME' }, pipelines: { x: { cooldown: '1y' } } });

    // Assess
    expect(problems).toHaveLength(3);
  });
});
