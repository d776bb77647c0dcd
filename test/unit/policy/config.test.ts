import { policiesFromConfig, readConfig, validateConfigPolicy } from '../../../policy/config';

describe('Function: validateConfigPolicy', () => {
  it.each([
    [{ cooldown: '5 min' }, 'p.cooldown must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got "5 min"'],
    [{ cooldown: '13h' }, 'p.cooldown must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got "13h"'],
    [{ cooldown: -5 }, 'p.cooldown must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got -5'],
    [{ budget: { maxRetries: 2, windowSeconds: 60 } }, 'p.budget.windowSeconds is not a known setting (expected maxRetries, window)'],
  ])('rejects %j naming the cdk.json key and the value', (raw, message) => {
    // Act
    const { problems } = validateConfigPolicy(raw, 'p');

    // Assess
    expect(problems).toEqual([message]);
  });

  it('reads durations as cdk.json spells them', () => {
    // Act
    const result = validateConfigPolicy(
      { maxRetries: 10, cooldown: '2h', maxRetryWindow: 90, budget: { maxRetries: 5, window: '1d' } },
      'p',
    );

    // Assess
    expect(result).toEqual({
      patch: { maxRetries: 10, cooldownSeconds: 7200, maxRetryWindowSeconds: 90, budget: { maxRetries: 5, windowSeconds: 86_400 } },
      problems: [],
    });
  });
});

describe('Function: readConfig', () => {
  it('reads class rules and the transient preset into seeds', () => {
    // Act
    const { seeds, problems } = readConfig({
      default: { retryOn: 'transient' },
      pipelines: {
        'web-app': {
          neverRetryOn: [{ class: ['test', 'configuration'] }],
          stages: { Deploy: { retryOn: [{ class: 'deployment-health', provider: 'CodeDeploy' }, { class: 'throttled' }] } },
        },
      },
    });

    // Assess
    expect(problems).toEqual([]);
    expect(seeds).toEqual([
      { scope: { kind: 'default' }, patch: { retryOn: [{ class: ['infrastructure', 'timeout', 'throttled'] }] } },
      {
        scope: { kind: 'pipeline', pipeline: 'web-app', account: undefined },
        patch: { neverRetryOn: [{ class: ['test', 'configuration'] }] },
      },
      {
        scope: { kind: 'stage', pipeline: 'web-app', stage: 'Deploy', account: undefined },
        patch: { retryOn: [{ class: ['deployment-health'], provider: ['CodeDeploy'] }, { class: ['throttled'] }] },
      },
    ]);
  });

  it('names a bad class by its key path in cdk.json', () => {
    // Act
    const { problems } = readConfig({ pipelines: { 'web-app': { stages: { Test: { retryOn: [{ class: 'flaky' }] } } } } });

    // Assess
    expect(problems).toEqual([
      'autoRetry.pipelines.web-app.stages.Test.retryOn[0].class has "flaky", which is not a failure class ' +
        '(expected: infrastructure, timeout, throttled, test, build, deployment-health, configuration, permission, unknown)',
    ]);
  });

  it('reads policies into seeds and the rest into settings, without throwing', () => {
    // Act
    const { seeds, settings, problems } = readConfig({
      watch: ['web-app'],
      default: { cooldown: '1m' },
      accounts: { '222222222222': { maxRetries: 1 } },
      pipelines: { 'web-app': { stages: { Test: { maxRetries: 3 } } } },
      ledgerRetentionDays: 7,
      notifications: { emails: ['oncall@example.com'] },
      alarms: { exhaustedPerHour: 2 },
    });

    // Assess
    expect(problems).toEqual([]);
    expect(seeds).toEqual([
      { scope: { kind: 'default' }, patch: { cooldownSeconds: 60 } },
      { scope: { kind: 'account', account: '222222222222' }, patch: { maxRetries: 1 } },
      { scope: { kind: 'stage', pipeline: 'web-app', stage: 'Test', account: undefined }, patch: { maxRetries: 3 } },
    ]);
    expect(settings).toMatchObject({
      watch: ['web-app'],
      pipelineKeys: ['web-app'],
      ledgerRetentionDays: 7,
      notifications: { emails: ['oncall@example.com'], slack: undefined },
      exhaustedPerHour: 2,
    });
  });

  it.each<[string, unknown, string]>([
    [
      'an account key that is not an account id',
      { accounts: { prod: { maxRetries: 1 } } },
      'autoRetry.accounts.prod is not a 12-digit account id',
    ],
    [
      'a pipeline key whose account is not an account id',
      { pipelines: { '1234/api': { maxRetries: 1 } } },
      'autoRetry.pipelines["1234/api"] "1234/api" is not a valid CodePipeline name; for one account write <account>/<pipeline>',
    ],
    [
      'an organization with neither member accounts nor an organization id',
      { organization: { centralAccount: '111111111111', centralRegion: 'us-east-1' } },
      'autoRetry.organization needs memberAccounts (a list of account ids) or organizationId (admit the whole organization)',
    ],
    [
      'a member account that is not an account id',
      { organization: { centralAccount: '111111111111', centralRegion: 'us-east-1', memberAccounts: ['1234'] } },
      'autoRetry.organization.memberAccounts[0] must be a 12-digit account id, got "1234"',
    ],
    [
      'a member role name too long for the region suffix',
      {
        organization: {
          centralAccount: '111111111111',
          centralRegion: 'us-east-1',
          organizationId: 'o-a1b2c3d4e5',
          memberRoleName: 'r'.repeat(48),
        },
      },
      'autoRetry.organization.memberRoleName must be 1-47 characters',
    ],
  ])('names %s, which only the construct used to catch', (_case, raw, expected) => {
    // Act
    const { problems } = readConfig(raw);

    // Assess
    expect(problems).toEqual([expect.stringContaining(expected)]);
  });

  it.each<[string, unknown, boolean | undefined, string[]]>([
    ['reads classifyAllFailures when it is set', { classifyAllFailures: true }, true, []],
    ['leaves classifyAllFailures unset by default', {}, undefined, []],
    [
      'names a classifyAllFailures that is not a switch',
      { classifyAllFailures: 'yes' },
      undefined,
      ['autoRetry.classifyAllFailures must be true or false, got "yes"'],
    ],
  ])('%s', (_case, raw, classifyAll, expected) => {
    // Act
    const { settings, problems } = readConfig(raw);

    // Assess
    expect(settings.classifyAllFailures).toBe(classifyAll);
    expect(problems).toEqual(expected);
  });

  it('names the members of an organization once, when their shapes are wrong', () => {
    // Act
    const { problems } = readConfig({
      organization: { centralAccount: '111111111111', centralRegion: 'us-east-1', memberAccounts: 'all' },
    });

    // Assess
    expect(problems).toEqual(['autoRetry.organization.memberAccounts must be a list of strings, got "all"']);
  });
});

describe('Function: policiesFromConfig', () => {
  it('gives the CLI the seeds of a valid block', () => {
    // Act
    const { seeds, problems } = policiesFromConfig({ pipelines: { '222222222222/api': { maxRetries: 0 } } });

    // Assess
    expect(problems).toEqual([]);
    expect(seeds).toEqual([{ scope: { kind: 'pipeline', pipeline: 'api', account: '222222222222' }, patch: { maxRetries: 0 } }]);
  });

  it('gives every problem of the block, not only the policies', () => {
    // Act
    const { seeds, problems } = policiesFromConfig({ default: { maxRetries: 99 }, notifications: { emails: ['nobody'] } });

    // Assess
    expect(seeds).toEqual([]);
    expect(problems).toEqual([
      'autoRetry.default.maxRetries must be an integer from 0 to 10, got 99',
      'autoRetry.notifications.emails[0] must be an email address, got "nobody"',
    ]);
  });
});
