import { Duration } from 'aws-cdk-lib';
import { parseAutoRetryConfig } from '../../../lib/config';
import { StageRetryMode } from '../../../lib/props';
import { RetryOn } from '../../../lib/retry-on';
import { ConfigurationError } from '../../../policy/errors';

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
  it('turns cdk.json configuration into the construct props, durations as Durations', () => {
    // Act
    const props = parseAutoRetryConfig({
      watch: ['web-app'],
      default: { maxRetries: 2, cooldown: '1m' },
      pipelines: { 'web-app': { maxRetries: 3, stages: { Deploy: { retryMode: 'ALL_ACTIONS', cooldown: 300 } } } },
      ledgerRetentionDays: 7,
      notifications: { emails: ['oncall@example.com'] },
    });

    // Assess
    expect(props.watchedPipelines).toEqual(['web-app']);
    expect(props.defaultPolicy?.maxRetries).toBe(2);
    expect(props.defaultPolicy?.cooldown?.toSeconds()).toBe(60);
    expect(props.pipelines?.['web-app']?.maxRetries).toBe(3);
    const deploy = props.pipelines?.['web-app']?.stages?.Deploy;
    expect(deploy?.retryMode).toBe(StageRetryMode.ALL_ACTIONS);
    expect(deploy?.cooldown?.toSeconds()).toBe(300);
    expect(props.ledgerRetention?.toDays()).toBe(7);
    expect(props.notifications).toEqual({ emails: ['oncall@example.com'] });
  });

  it('gives cdk.json\'s "transient" preset as the props spell it', () => {
    // Act
    const props = parseAutoRetryConfig({ default: { retryOn: 'transient', neverRetryOn: [{ class: 'test' }] } });

    // Assess
    expect(props.defaultPolicy).toEqual({ retryOn: RetryOn.transientFailures(), neverRetryOn: [{ failureClasses: ['test'] }] });
  });

  it('watches every pipeline when nothing is configured', () => {
    // Act
    const props = parseAutoRetryConfig(undefined);

    // Assess
    expect(props).toEqual({});
  });

  it('reads a budget window as a Duration', () => {
    // Act
    const props = parseAutoRetryConfig({ pipelines: { api: { budget: { maxRetries: 10, window: '1h' } } } });

    // Assess
    expect(props.pipelines?.api?.budget?.maxRetries).toBe(10);
    expect(props.pipelines?.api?.budget?.window.toSeconds()).toBe(Duration.hours(1).toSeconds());
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
    [
      'a budget on a stage',
      { pipelines: { api: { stages: { Test: { budget: { maxRetries: 1, window: '1h' } } } } } },
      [expect.stringMatching(/^autoRetry\.pipelines\.api\.stages\.Test\.budget is not a known setting/)],
    ],
    ['a non-object', 'yes', ['autoRetry must be an object, got "yes"']],
    [
      'a key with a newline, quoted on one line',
      { default: { 'a\nb': 1 } },
      [expect.stringMatching(/^autoRetry\.default\["a\\nb"\] is not a known setting \(expected one of: [^\n]*\)$/)],
    ],
    [
      'a pipeline name with a newline, quoted on one line',
      { pipelines: { 'bad\nname': { maxRetries: 1 } } },
      ['autoRetry.pipelines["bad\\nname"] is not a valid pipeline name ([A-Za-z0-9.@-_], 1-100 characters)'],
    ],
    [
      'a bad value under a pipeline whose name has dots, named unambiguously',
      { pipelines: { 'web.app': { maxRetries: -1 } } },
      ['autoRetry.pipelines["web.app"].maxRetries must be an integer from 0 to 10, got -1'],
    ],
    [
      'a regular expression that can backtrack catastrophically',
      { default: { retryOn: [{ message: '(a+)+$' }] } },
      ['autoRetry.default.retryOn[0].message "(a+)+$" can backtrack catastrophically on long input; rewrite it without nested repetition'],
    ],
    [
      'a cooldown longer than the cap on every wait',
      { default: { cooldown: '12h', maxCooldown: '1s' } },
      ['autoRetry.default.cooldown (12h) is longer than autoRetry.default.maxCooldown (1s): every wait would be cut to 1s'],
    ],
    [
      'more rules than a policy may hold',
      { default: { neverRetryOn: Array.from({ length: 21 }, (_, i) => ({ code: `E${i}` })) } },
      ['autoRetry.default.neverRetryOn has 21 rules; at most 20'],
    ],
  ])('refuses %s with a message naming the key and the value', (_case, raw, expected) => {
    // Act
    const problems = problemsOf(raw);

    // Assess
    expect(problems).toEqual(expected);
  });

  it('reports every problem at once', () => {
    // Act
    const problems = problemsOf({ default: { maxRetries: 20, retryMode: 'SOME' }, pipelines: { x: { cooldown: '1y' } } });

    // Assess
    expect(problems).toHaveLength(3);
  });
});
