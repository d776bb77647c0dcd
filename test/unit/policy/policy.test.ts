import { BUILT_IN_POLICY, resolvePolicy, validatePolicyPatch } from '../../../policy/policy';

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
    [{ cooldownSeconds: '5m' }, 'p.cooldownSeconds must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got "5m"'],
    [{ cooldownSeconds: 46_801 }, 'p.cooldownSeconds must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got 46801'],
    [{ cooldownSeconds: -5 }, 'p.cooldownSeconds must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got -5'],
    [{ retryMode: 'failed_actions' }, 'p.retryMode must be one of FAILED_ACTIONS, ALL_ACTIONS, got "failed_actions"'],
    [{ mode: 'dry-run' }, 'p.mode must be one of enforce, observe, got "dry-run"'],
  ])('rejects %j naming the field and the value', (raw, message) => {
    // Act
    const { problems } = validatePolicyPatch(raw, 'p');

    // Assess
    expect(problems).toEqual([message]);
  });

  it('accepts a stored item: field names and seconds', () => {
    // Act
    const result = validatePolicyPatch({ maxRetries: 10, cooldownSeconds: 7200, retryMode: 'ALL_ACTIONS', mode: 'observe' }, 'p');

    // Assess
    expect(result).toEqual({ patch: { maxRetries: 10, cooldownSeconds: 7200, retryMode: 'ALL_ACTIONS', mode: 'observe' }, problems: [] });
  });

  it('reads another spelling when told how: keys, durations and the budget window', () => {
    // Act
    const result = validatePolicyPatch({ wait: 'long', budget: { maxRetries: 2, span: 3600 } }, 'p', {
      keyOf: (field) => (field === 'cooldownSeconds' ? 'wait' : field),
      seconds: (v) => (v === 'long' ? 600 : typeof v === 'number' ? v : undefined),
      budgetWindowKey: 'span',
    });

    // Assess
    expect(result).toEqual({ patch: { cooldownSeconds: 600, budget: { maxRetries: 2, windowSeconds: 3600 } }, problems: [] });
  });
});
