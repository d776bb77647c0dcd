import { createContext, runInContext } from 'node:vm';
import type { Matcher } from '../domain/filters';

/** How long one pattern may take on one message. */
export const MATCH_TIME_LIMIT_MS = 50;

const sandbox = createContext({ re: /(?:)/, text: '' });

/**
 * Tests operators' patterns with a time limit. Patterns are checked for catastrophic
 * backtracking when they are set (synth and CLI); this is the function's own guard for any that
 * got into the table another way: a test that runs out of time answers "cannot tell" instead of
 * holding the function until its timeout, on every failure.
 */
export const boundedMatch: Matcher = (pattern, text) => {
  sandbox.re = new RegExp(pattern, 'i');
  sandbox.text = text;
  try {
    return runInContext('re.test(text)', sandbox, { timeout: MATCH_TIME_LIMIT_MS }) as boolean;
  } catch {
    return undefined;
  }
};
