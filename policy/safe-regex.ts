import safeRegex from 'safe-regex2';

/**
 * Whether a rule's regular expression is safe from catastrophic backtracking, by safe-regex2 (a
 * maintained star-height check). Operators' patterns run against build output at 3 a.m.
 */
export function isSafeRegex(pattern: string): boolean {
  return safeRegex(pattern);
}
