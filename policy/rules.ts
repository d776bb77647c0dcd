import { keyPath, show } from './show';

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

/** Says whether a pattern is safe from catastrophic backtracking (configuration passes safe-regex.ts). */
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
