import { applyFilters, MAX_MATCHED_CHARACTERS } from '../../../../lambda/domain/filters';
import type { ActionView } from '../../../../lambda/domain/types';
import { validateRules } from '../../../../policy/rules';

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
