import { formatDuration, parseDuration } from '../../../policy/duration';

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
    // Act / Assess
    expect(parseDuration(input)).toBe(seconds);
  });

  it.each(['', '5 m', '1.5h', '-1', '5w', 'm', '1e3'])('refuses %j', (input) => {
    // Act / Assess
    expect(parseDuration(input)).toBeUndefined();
  });

  it.each([
    [0, '0'],
    [45, '45s'],
    [300, '5m'],
    [7200, '2h'],
    [90, '90s'],
    [86400, '1d'],
  ])('formats %d seconds as %s', (seconds, text) => {
    // Act / Assess
    expect(formatDuration(seconds)).toBe(text);
  });
});
