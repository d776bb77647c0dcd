import { validateConfigPolicy } from '../../../policy/config';
import { validatePolicyPatch } from '../../../policy/policy';
import { isTransientPreset, needsClassification, transientRules, validateRules } from '../../../policy/rules';

const CLASSES = 'infrastructure, timeout, throttled, test, build, deployment-health, configuration, permission, unknown';

describe('Function: validateRules', () => {
  it.each<[string, unknown, unknown]>([
    ['one class', [{ class: 'timeout' }], [{ class: ['timeout'] }]],
    ['a list of classes', [{ class: ['infrastructure', 'throttled'] }], [{ class: ['infrastructure', 'throttled'] }]],
    ['a class ANDed with other fields', [{ class: 'test', provider: 'CodeBuild' }], [{ class: ['test'], provider: ['CodeBuild'] }]],
    ['a class named twice, kept once', [{ class: ['timeout', 'timeout'] }], [{ class: ['timeout'] }]],
    ['the preset "transient"', 'transient', [{ class: ['infrastructure', 'timeout', 'throttled'] }]],
  ])('accepts %s', (_case, raw, rules) => {
    // Act
    const result = validateRules(raw, 'r');

    // Assess
    expect(result).toEqual({ rules, problems: [] });
  });

  it.each<[string, unknown, string]>([
    ['a word that is no class', [{ class: 'flaky' }], `r[0].class has "flaky", which is not a failure class (expected: ${CLASSES})`],
    [
      'a bad class in a list',
      [{ class: ['timeout', 'Timeout'] }],
      `r[0].class has "Timeout", which is not a failure class (expected: ${CLASSES})`,
    ],
    ['an empty list', [{ class: [] }], `r[0].class must be a failure class or a non-empty list of them (expected: ${CLASSES}), got []`],
    ['a number', [{ class: 3 }], `r[0].class must be a failure class or a non-empty list of them (expected: ${CLASSES}), got 3`],
    ['another preset', 'flaky', 'r must be a list of rules or "transient", got "flaky"'],
    [
      '"transient" inside a list',
      ['transient'],
      'r[0] is "transient": the preset stands for the whole list; within a list write {"class":["infrastructure","timeout","throttled"]}',
    ],
    ['a rule that is not an object', [42], 'r[0] must be an object with code, message, category, provider and/or class'],
  ])('refuses %s in one line naming the value', (_case, raw, problem) => {
    // Act
    const { problems } = validateRules(raw, 'r');

    // Assess
    expect(problems).toEqual([problem]);
  });

  it('refuses the preset in neverRetryOn, saying where it belongs', () => {
    // Act
    const { problems } = validateRules('transient', 'p.neverRetryOn', undefined, { list: 'neverRetryOn' });

    // Assess
    expect(problems).toEqual([
      'p.neverRetryOn cannot be "transient": the preset is for retryOn; list rules here, such as [{"class":"test"}]',
    ]);
  });

  it('names the class field as the source spells it', () => {
    // Act
    const good = validateRules([{ failureClasses: ['test'] }], 'props.retryOn', undefined, { classKey: 'failureClasses' });
    const bad = validateRules([{ failureClasses: ['tests'], class: 'test' }], 'props.retryOn', undefined, { classKey: 'failureClasses' });

    // Assess
    expect(good).toEqual({ rules: [{ class: ['test'] }], problems: [] });
    expect(bad.problems).toEqual([
      'props.retryOn[0].class is not a rule field (expected one of: code, message, category, provider, failureClasses)',
      `props.retryOn[0].failureClasses has "tests", which is not a failure class (expected: ${CLASSES})`,
    ]);
  });
});

describe('Function: validatePolicyPatch', () => {
  it('reads the preset and class rules from a stored item, as they were written', () => {
    // Act
    const result = validatePolicyPatch({ retryOn: transientRules(), neverRetryOn: [{ class: ['test'], provider: ['CodeBuild'] }] }, 'p');

    // Assess
    expect(result).toEqual({
      patch: {
        retryOn: [{ class: ['infrastructure', 'timeout', 'throttled'] }],
        neverRetryOn: [{ class: ['test'], provider: ['CodeBuild'] }],
      },
      problems: [],
    });
  });

  it('takes "transient" in cdk.json and the CLI for retryOn, and refuses it for neverRetryOn', () => {
    // Act
    const result = validateConfigPolicy({ retryOn: 'transient', neverRetryOn: 'transient' }, 'autoRetry.default');

    // Assess
    expect(result.patch).toEqual({ retryOn: transientRules() });
    expect(result.problems).toEqual([
      'autoRetry.default.neverRetryOn cannot be "transient": the preset is for retryOn; list rules here, such as [{"class":"test"}]',
    ]);
  });
});

describe('Function: needsClassification', () => {
  it.each<[string, Parameters<typeof needsClassification>[0], boolean]>([
    ['no rules', {}, false],
    ['rules without class', { retryOn: [{ code: ['JobFailed'] }], neverRetryOn: [{ message: 'AccessDenied' }] }, false],
    ['the preset', { retryOn: transientRules() }, true],
    ['a class in neverRetryOn', { neverRetryOn: [{ message: 'x' }, { class: ['test'] }] }, true],
  ])('says whether a policy with %s needs its failures classified', (_case, policy, expected) => {
    // Act / Assess
    expect(needsClassification(policy)).toBe(expected);
  });
});

describe('Function: isTransientPreset', () => {
  it.each<[string, Parameters<typeof isTransientPreset>[0], boolean]>([
    ['the preset', transientRules(), true],
    ['the preset in another order', [{ class: ['throttled', 'infrastructure', 'timeout'] }], true],
    ['fewer classes', [{ class: ['timeout', 'throttled'] }], false],
    ['the classes with another field', [{ class: ['infrastructure', 'timeout', 'throttled'], provider: ['CodeBuild'] }], false],
    ['two rules', [...transientRules(), { code: ['X'] }], false],
    ['no rules', undefined, false],
  ])('tells %s', (_case, rules, expected) => {
    // Act / Assess
    expect(isTransientPreset(rules)).toBe(expected);
  });
});
