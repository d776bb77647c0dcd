import { formatDuration, parseDuration, parseDurationOrThrow } from '../../lambda/domain/duration';
import { InvalidInputError } from '../../lambda/domain/errors';
import { BUILT_IN_POLICY, resolvePolicy, validatePolicyPatch } from '../../lambda/domain/policy';

describe('Function: resolvePolicy', () => {
  it.each([
    [
      'nothing configured',
      {},
      BUILT_IN_POLICY,
      { maxRetries: 'built-in', cooldownSeconds: 'built-in', retryMode: 'built-in', mode: 'built-in' },
    ],
    [
      'only a default',
      { default: { maxRetries: 1, cooldownSeconds: 60 } },
      { maxRetries: 1, cooldownSeconds: 60, retryMode: 'FAILED_ACTIONS', mode: 'enforce' },
      { maxRetries: 'default', cooldownSeconds: 'default', retryMode: 'built-in', mode: 'built-in' },
    ],
    [
      'pipeline over default, field by field',
      { default: { maxRetries: 1, cooldownSeconds: 60 }, pipeline: { maxRetries: 4 } },
      { maxRetries: 4, cooldownSeconds: 60, retryMode: 'FAILED_ACTIONS', mode: 'enforce' },
      { maxRetries: 'pipeline', cooldownSeconds: 'default', retryMode: 'built-in', mode: 'built-in' },
    ],
    [
      'stage over pipeline over default',
      {
        default: { maxRetries: 1, cooldownSeconds: 60, retryMode: 'FAILED_ACTIONS' as const },
        pipeline: { maxRetries: 4, cooldownSeconds: 30, mode: 'observe' as const },
        stage: { retryMode: 'ALL_ACTIONS' as const, maxRetries: 0 },
      },
      { maxRetries: 0, cooldownSeconds: 30, retryMode: 'ALL_ACTIONS', mode: 'observe' },
      { maxRetries: 'stage', cooldownSeconds: 'pipeline', retryMode: 'stage', mode: 'pipeline' },
    ],
  ])('resolves %s', (_case, layers, policy, sources) => {
    // Act
    const resolved = resolvePolicy(layers);

    // Assess
    expect(resolved.policy).toEqual(expect.objectContaining(policy));
    expect(resolved.sources).toEqual(expect.objectContaining(sources));
  });
});

describe('Function: validatePolicyPatch', () => {
  it.each([
    [{ maxRetries: -1 }, 'p.maxRetries must be an integer from 0 to 10, got -1'],
    [{ maxRetries: 1.5 }, 'p.maxRetries must be an integer from 0 to 10, got 1.5'],
    [{ maxRetries: '2' }, 'p.maxRetries must be an integer from 0 to 10, got "2"'],
    [{ cooldown: '5 min' }, 'p.cooldown must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got "5 min"'],
    [{ cooldown: '13h' }, 'p.cooldown must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got "13h"'],
    [{ cooldown: -5 }, 'p.cooldown must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got -5'],
    [{ retryMode: 'failed_actions' }, 'p.retryMode must be one of FAILED_ACTIONS, ALL_ACTIONS, got "failed_actions"'],
    [{ mode: 'dry-run' }, 'p.mode must be one of enforce, observe, got "dry-run"'],
  ])('rejects %j naming the field and the value', (raw, message) => {
    // Act
    const { problems } = validatePolicyPatch(raw, 'p');

    // Assess
    expect(problems).toEqual([message]);
  });

  it('accepts every field at once', () => {
    // Act
    const result = validatePolicyPatch({ maxRetries: 10, cooldown: '2h', retryMode: 'ALL_ACTIONS', mode: 'observe' }, 'p');

    // Assess
    expect(result).toEqual({ patch: { maxRetries: 10, cooldownSeconds: 7200, retryMode: 'ALL_ACTIONS', mode: 'observe' }, problems: [] });
  });
});

describe('Function: parseDuration', () => {
  it.each([
    ['0', 0],
    ['45s', 45],
    ['5m', 300],
    ['2h', 7200],
    ['1d', 86400],
    ['90', 90],
    [120, 120],
  ] as const)('reads %j as %d seconds', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });

  it.each(['', '5 m', '1.5h', '-1', '5w', 'm', '1e3'])('refuses %j', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  it('names the setting in its error', () => {
    expect(() => parseDurationOrThrow('soon', '--cooldown')).toThrow(
      new InvalidInputError('--cooldown must be a duration such as 0, 45s, 5m, 2h or whole seconds, got "soon"'),
    );
  });

  it.each([
    [0, '0'],
    [45, '45s'],
    [300, '5m'],
    [7200, '2h'],
    [90, '90s'],
    [86400, '1d'],
  ])('formats %d seconds as %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
