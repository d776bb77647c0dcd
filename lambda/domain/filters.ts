import { keyPath, show } from './show';
import type { ActionView } from './types';

/**
 * One failure filter. Every field given must match the failed action; a field left out matches
 * anything. Codes, categories and providers compare case-insensitively; `message` is a
 * case-insensitive regular expression tried on the error message and on the summary.
 */
export interface FailureRule {
  readonly code?: readonly string[];
  readonly message?: string;
  readonly category?: readonly string[];
  readonly provider?: readonly string[];
}

const RULE_KEYS = ['code', 'message', 'category', 'provider'] as const;

/** Rules in one list at most: a policy is a few rules, and the item must stay small. */
export const MAX_RULES = 20;

/**
 * How much of a message a rule's regular expression reads: error messages and summaries can be
 * long build output, and a pattern that slipped past the check must not run unbounded on it.
 */
export const MAX_MATCHED_CHARACTERS = 4096;

/** Says whether a pattern is safe from catastrophic backtracking (lib/ passes a maintained checker). */
export type RegexCheck = (pattern: string) => boolean;

/**
 * Validates a list of rules from configuration, the CLI or the table. Regexes are compiled here,
 * and, where `isSafe` is given (configuration and the CLI), refused if they can backtrack
 * catastrophically.
 */
export function validateRules(raw: unknown, where: string, isSafe?: RegexCheck): { rules: FailureRule[]; problems: string[] } {
  const problems: string[] = [];
  const rules: FailureRule[] = [];
  if (!Array.isArray(raw)) return { rules, problems: [`${where} must be a list of rules, got ${show(raw)}`] };
  if (raw.length > MAX_RULES) return { rules, problems: [`${where} has ${raw.length} rules; at most ${MAX_RULES}`] };
  raw.forEach((item, i) => {
    const at = `${where}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${at} must be an object with code, message, category and/or provider`);
      return;
    }
    const r = item as Record<string, unknown>;
    const unknown = Object.keys(r).filter((k) => !(RULE_KEYS as readonly string[]).includes(k));
    if (unknown.length > 0)
      problems.push(`${keyPath(at, unknown[0] ?? '')} is not a rule field (expected one of: ${RULE_KEYS.join(', ')})`);
    if (RULE_KEYS.every((k) => r[k] === undefined)) problems.push(`${at} must name at least one of ${RULE_KEYS.join(', ')}`);
    const rule: { -readonly [K in keyof FailureRule]: FailureRule[K] } = {};
    for (const key of ['code', 'category', 'provider'] as const) {
      const v = r[key];
      if (v === undefined) continue;
      const list = typeof v === 'string' ? [v] : v;
      if (
        !Array.isArray(list) ||
        list.length === 0 ||
        list.length > 50 ||
        !list.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 200)
      ) {
        problems.push(`${at}.${key} must be a string or a list of 1 to 50 strings of at most 200 characters`);
      } else {
        rule[key] = list as string[];
      }
    }
    if (r.message !== undefined) {
      if (typeof r.message !== 'string' || r.message.length === 0 || r.message.length > 500) {
        problems.push(`${at}.message must be a regular expression of 1 to 500 characters`);
      } else {
        try {
          new RegExp(r.message, 'i');
          if (isSafe && !isSafe(r.message)) {
            problems.push(
              `${at}.message ${show(r.message)} can backtrack catastrophically on long input; rewrite it without nested repetition`,
            );
          } else {
            rule.message = r.message;
          }
        } catch (error) {
          problems.push(
            `${at}.message is not a valid regular expression: ${show(r.message)} (${error instanceof Error ? error.message : String(error)})`,
          );
        }
      }
    }
    rules.push(rule);
  });
  return { rules, problems };
}

const same = (list: readonly string[] | undefined, value: string | undefined): boolean =>
  list === undefined || (value !== undefined && list.some((x) => x.toLowerCase() === value.toLowerCase()));

/**
 * Tests a case-insensitive pattern on a text: true or false, or undefined when it could not tell
 * (the function's matcher gives each test a time limit).
 */
export type Matcher = (pattern: string, text: string) => boolean | undefined;

/** A plain test, with no time limit: for configuration checks and the CLI's explain. */
export const plainMatch: Matcher = (pattern, text) => new RegExp(pattern, 'i').test(text);

/**
 * Whether a rule matches a failed action. When the message pattern cannot be told in time, the
 * answer is `unknown`: the caller leans to not retrying (a never-retry rule counts as matching,
 * a retry rule as not).
 */
export function ruleMatches(rule: FailureRule, action: ActionView, match: Matcher = plainMatch, unknown = false): boolean {
  const answer = ruleAnswer(rule, action, match);
  return answer === 'unknown' ? unknown : answer === 'match';
}

function ruleAnswer(rule: FailureRule, action: ActionView, match: Matcher): 'match' | 'no' | 'unknown' {
  if (!same(rule.code, action.errorCode)) return 'no';
  if (!same(rule.category, action.category)) return 'no';
  if (!same(rule.provider, action.provider)) return 'no';
  if (rule.message === undefined) return 'match';
  const pattern = rule.message;
  const texts = [action.errorMessage, action.summary].filter((t): t is string => t !== undefined);
  const answers = texts.map((text) => match(pattern, text.slice(0, MAX_MATCHED_CHARACTERS)));
  if (answers.includes(true)) return 'match';
  return answers.includes(undefined) ? 'unknown' : 'no';
}

export type FilterVerdict =
  | { readonly retry: true; readonly rule: string }
  | { readonly retry: false; readonly reason: 'never-retry-rule' | 'no-retry-rule-match'; readonly rule: string; readonly action: string };

/**
 * Applies retryOn / neverRetryOn to the failed actions of a stage. The stage is retried only if
 * every failed action may be: one never-retry failure, or one failure no retryOn rule covers,
 * is enough to leave the stage alone. neverRetryOn wins over retryOn.
 */
export function applyFilters(
  failed: readonly ActionView[],
  retryOn: readonly FailureRule[] | undefined,
  neverRetryOn: readonly FailureRule[] | undefined,
  match: Matcher = plainMatch,
): FilterVerdict {
  const matched = new Set<number>();
  for (const action of failed) {
    // A pattern that cannot be told in time leans to no retry: it counts as a never-retry match.
    const answers = (neverRetryOn ?? []).map((r) => ruleAnswer(r, action, match));
    const never = answers.findIndex((a) => a !== 'no');
    if (never >= 0) {
      const untold = answers[never] === 'unknown' ? ' (its pattern could not be tested in time; taken as matching)' : '';
      return { retry: false, reason: 'never-retry-rule', rule: `neverRetryOn[${never}]${untold}`, action: action.name };
    }
    if (retryOn === undefined) continue;
    const allowed = retryOn.findIndex((r) => ruleMatches(r, action, match, false));
    if (allowed < 0) return { retry: false, reason: 'no-retry-rule-match', rule: 'retryOn', action: action.name };
    matched.add(allowed);
  }
  if (retryOn === undefined) return { retry: true, rule: 'no retryOn rules: any failure' };
  return { retry: true, rule: [...matched].map((i) => `retryOn[${i}]`).join(', ') };
}
