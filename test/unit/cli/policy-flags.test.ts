import { describePatch, patchFromFlags } from '../../../cli/policy-flags';
import { InvalidInputError } from '../../../policy/errors';

describe('Function: patchFromFlags', () => {
  it.each<[string, string, unknown]>([
    ['the preset', 'transient', [{ class: ['infrastructure', 'timeout', 'throttled'] }]],
    ['the preset with spaces around it', ' transient ', [{ class: ['infrastructure', 'timeout', 'throttled'] }]],
    ['one class rule', '{"class":["timeout"]}', [{ class: ['timeout'] }]],
    [
      'a class as one word, with another field',
      '[{"class":"test","provider":"CodeBuild"}]',
      [{ class: ['test'], provider: ['CodeBuild'] }],
    ],
  ])('reads --retry-on with %s', (_case, value, retryOn) => {
    // Act
    const patch = patchFromFlags({ retryOn: value });

    // Assess
    expect(patch).toEqual({ retryOn });
  });

  it.each<[string, Parameters<typeof patchFromFlags>[0], string]>([
    [
      'a word that is no class',
      { retryOn: '{"class":"flaky"}' },
      '--retry-on[0].class has "flaky", which is not a failure class (expected: infrastructure, timeout, throttled, test, build, deployment-health, configuration, permission, unknown)',
    ],
    [
      'the preset for --never-retry-on',
      { neverRetryOn: 'transient' },
      '--never-retry-on cannot be "transient": the preset is for retryOn; list rules here, such as [{"class":"test"}]',
    ],
    [
      'text that is neither JSON nor the preset',
      { retryOn: 'transients' },
      '--retry-on must be JSON: a rule object or a list of them, got "transients" (or "transient", the preset)',
    ],
  ])('refuses %s in one line', (_case, flags, message) => {
    // Act / Assess
    expect(() => patchFromFlags(flags)).toThrow(new InvalidInputError(message));
  });
});

describe('Function: describePatch', () => {
  it.each<[string, Parameters<typeof describePatch>[0], string]>([
    ['the preset by its name', { retryOn: [{ class: ['throttled', 'timeout', 'infrastructure'] }] }, 'retryOn=transient'],
    [
      'a class rule as written',
      { neverRetryOn: [{ class: ['test'], provider: ['CodeBuild'] }] },
      'neverRetryOn=[{"class":"test","provider":"CodeBuild"}]',
    ],
    ['a list of classes', { retryOn: [{ class: ['timeout', 'throttled'] }] }, 'retryOn=[{"class":["timeout","throttled"]}]'],
  ])('shows %s', (_case, patch, text) => {
    // Act / Assess
    expect(describePatch(patch)).toBe(text);
  });
});
