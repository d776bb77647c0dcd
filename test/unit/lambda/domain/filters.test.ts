import { type ActionClasses, applyFilters, classOf, MAX_MATCHED_CHARACTERS } from '../../../../lambda/domain/filters';
import type { ActionView } from '../../../../lambda/domain/types';
import type { FailureClass } from '../../../../policy/failure-class';
import { type FailureRule, transientRules, validateRules } from '../../../../policy/rules';

const failed = (message: string): ActionView => ({
  name: 'UnitTests',
  category: 'Test',
  provider: 'CodeBuild',
  actionMode: undefined,
  status: 'Failed',
  executionId: 'a-1',
  errorCode: 'JobFailed',
  errorMessage: message,
  summary: undefined,
});

describe('Function: applyFilters', () => {
  it.each([
    ['within the part a rule reads', `${'x'.repeat(100)} timed out`, true],
    ['beyond the part a rule reads', `${'x'.repeat(MAX_MATCHED_CHARACTERS)} timed out`, false],
  ])('matches a message pattern %s', (_case, message, retry) => {
    // Act
    const verdict = applyFilters([failed(message)], [{ message: 'timed out' }], undefined);

    // Assess
    expect(verdict.retry).toBe(retry);
  });
});

/** The classifications of the failed actions: each named action failed with its class. */
const classes = (entries: Record<string, FailureClass>): ActionClasses =>
  new Map(Object.entries(entries).map(([name, c]) => [name, { class: c, evidence: `${name} failed: ${c}` }]));
const named = (name: string, provider = 'CodeBuild'): ActionView => ({ ...failed('boom'), name, provider });

describe('Function: applyFilters with failure classes', () => {
  it.each<[string, FailureRule[] | undefined, FailureRule[] | undefined, Record<string, FailureClass> | undefined, boolean, string]>([
    ['retries a class the preset names', transientRules(), undefined, { UnitTests: 'infrastructure' }, true, 'retryOn[0]'],
    ['leaves a class the preset does not name', transientRules(), undefined, { UnitTests: 'test' }, false, 'retryOn'],
    ['leaves an action with no classification (unknown)', transientRules(), undefined, undefined, false, 'retryOn'],
    ['matches unknown when no classification is given', [{ class: ['unknown'] }], undefined, undefined, true, 'retryOn[0]'],
    [
      'never retries a class a never rule names',
      undefined,
      [{ class: ['test', 'build'] }],
      { UnitTests: 'test' },
      false,
      'neverRetryOn[0]',
    ],
    [
      'lets a never rule on a class pass another class',
      undefined,
      [{ class: ['test'] }],
      { UnitTests: 'timeout' },
      true,
      'no retryOn rules: any failure',
    ],
    [
      'ANDs the class with the other fields (all match)',
      [{ class: ['timeout'], provider: ['CodeBuild'] }],
      undefined,
      { UnitTests: 'timeout' },
      true,
      'retryOn[0]',
    ],
    [
      'ANDs the class with the other fields (provider differs)',
      [{ class: ['timeout'], provider: ['Lambda'] }],
      undefined,
      { UnitTests: 'timeout' },
      false,
      'retryOn',
    ],
    [
      'ANDs the class with the other fields (class differs)',
      [{ class: ['timeout'], code: ['JobFailed'] }],
      undefined,
      { UnitTests: 'build' },
      false,
      'retryOn',
    ],
    ['reads the class of the action by its name', transientRules(), undefined, { Lint: 'timeout', UnitTests: 'test' }, false, 'retryOn'],
  ])('%s', (_case, retryOn, neverRetryOn, known, retry, rule) => {
    // Act
    const verdict = applyFilters([failed('boom')], retryOn, neverRetryOn, undefined, known && classes(known));

    // Assess
    expect(verdict.retry).toBe(retry);
    expect(verdict.rule).toBe(rule);
  });

  it('retries a stage only when every failed action has a class retryOn covers', () => {
    // Prepare
    const actions = [named('UnitTests'), named('Deploy', 'CodeDeploy')];

    // Act
    const both = applyFilters(actions, transientRules(), undefined, undefined, classes({ UnitTests: 'timeout', Deploy: 'throttled' }));
    const one = applyFilters(
      actions,
      transientRules(),
      undefined,
      undefined,
      classes({ UnitTests: 'timeout', Deploy: 'deployment-health' }),
    );

    // Assess
    expect(both).toEqual({ retry: true, rule: 'retryOn[0]' });
    expect(one).toEqual({ retry: false, reason: 'no-retry-rule-match', rule: 'retryOn', action: 'Deploy' });
  });

  it('gives an action without a classification the class unknown', () => {
    // Act / Assess
    expect(classOf(named('Lint'), classes({ UnitTests: 'test' }))).toBe('unknown');
    expect(classOf(named('UnitTests'), classes({ UnitTests: 'test' }))).toBe('test');
  });
});

describe('Function: validateRules', () => {
  it('refuses a pattern the checker finds unsafe, and only when a checker is given', () => {
    // Act
    const checked = validateRules([{ message: '(a+)+$' }], 'r', (pattern) => !pattern.includes('+)+'));
    const unchecked = validateRules([{ message: '(a+)+$' }], 'r');

    // Assess
    expect(checked.problems).toEqual([expect.stringMatching(/^r\[0\]\.message "\(a\+\)\+\$" can backtrack catastrophically/)]);
    expect(unchecked.problems).toEqual([]);
  });
});

describe('Function: applyFilters with a provider that could not be read', () => {
  /** The UnitTests action, its provider not read (throttled, a fault): unknown, and unread. */
  const unread: ActionClasses = new Map([
    ['UnitTests', { class: 'unknown', evidence: 'CodeBuild throttled the read; taken as unknown', unread: true }],
  ]);

  it.each<[string, FailureRule[] | undefined, FailureRule[] | undefined, boolean, string]>([
    [
      'counts a never rule on a class as matching, and says why',
      undefined,
      [{ class: ['test'] }],
      false,
      'neverRetryOn[0] (the class could not be read from the provider; taken as matching)',
    ],
    ['counts a retry rule on a class as not matching', transientRules(), undefined, false, 'retryOn'],
    ['still matches a retry rule that names unknown', [{ class: ['unknown'] }], undefined, true, 'retryOn[0]'],
    ['still matches a never rule that names unknown, plainly', undefined, [{ class: ['unknown'] }], false, 'neverRetryOn[0]'],
    [
      'lets a never rule on a class pass when another field rules the action out',
      undefined,
      [{ class: ['test'], provider: ['Lambda'] }],
      true,
      'no retryOn rules: any failure',
    ],
    ['retries under a rule without a class, as before', [{ code: ['JobFailed'] }], undefined, true, 'retryOn[0]'],
  ])('%s', (_case, retryOn, neverRetryOn, retry, rule) => {
    // Act
    const verdict = applyFilters([failed('boom')], retryOn, neverRetryOn, undefined, unread);

    // Assess
    expect(verdict.retry).toBe(retry);
    expect(verdict.rule).toBe(rule);
  });

  it('tells a class read as unknown from one not read: a never rule on a class lets the first pass', () => {
    // Prepare
    const read: ActionClasses = new Map([['UnitTests', { class: 'unknown', evidence: 'the build said nothing' }]]);

    // Act
    const verdict = applyFilters([failed('boom')], undefined, [{ class: ['test'] }], undefined, read);

    // Assess
    expect(verdict.retry).toBe(true);
  });
});
