import { FAILURE_CLASSES, type FailureClass, isFailureClass, TRANSIENT_CLASSES, TRANSIENT_PRESET } from './failure-class';
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
  /**
   * Why the action failed (policy/failure-class.ts), as the classifier derived it from the
   * provider's answer; any of these. An action with no classification counts as `unknown`.
   */
  readonly class?: readonly FailureClass[];
}

const RULE_KEYS = ['code', 'message', 'category', 'provider', 'class'] as const;
type RuleKey = (typeof RULE_KEYS)[number];

/** Where a rule list sits: retryOn may be the preset "transient", neverRetryOn may not. */
export type RuleListKind = 'retryOn' | 'neverRetryOn';

/** The rules the preset `retryOn: "transient"` stands for: one rule on the transient classes. */
export function transientRules(): FailureRule[] {
  return [{ class: [...TRANSIENT_CLASSES] }];
}

/** Whether a rule list is exactly what the preset "transient" expands to (so it can be shown as the preset). */
export function isTransientPreset(rules: readonly FailureRule[] | undefined): boolean {
  if (rules?.length !== 1) return false;
  const [only] = rules;
  const keys = Object.keys(only ?? {});
  const classes = only?.class ?? [];
  return (
    keys.length === 1 &&
    keys[0] === 'class' &&
    classes.length === TRANSIENT_CLASSES.length &&
    TRANSIENT_CLASSES.every((c) => classes.includes(c))
  );
}

/**
 * Whether a policy needs its failures classified: some retryOn or neverRetryOn rule names a
 * `class`. A policy without one makes no provider call.
 */
export function needsClassification(policy: {
  readonly retryOn?: readonly FailureRule[] | undefined;
  readonly neverRetryOn?: readonly FailureRule[] | undefined;
}): boolean {
  return [...(policy.retryOn ?? []), ...(policy.neverRetryOn ?? [])].some((rule) => rule.class !== undefined);
}

/** Rules in one list at most: a policy is a few rules, and the item must stay small. */
export const MAX_RULES = 20;

/** Says whether a pattern is safe from catastrophic backtracking (configuration passes safe-regex.ts). */
export type RegexCheck = (pattern: string) => boolean;

/** How a source spells a rule list: which list it is, and the key of a rule's `class` (props say `failureClasses`). */
export interface RuleSpelling {
  /** @default 'retryOn' (the preset is allowed) */
  readonly list?: RuleListKind;
  /** @default 'class' */
  readonly classKey?: string;
}

/**
 * Validates a list of rules from configuration, the CLI or the table. Regexes are compiled here,
 * and, where `isSafe` is given (configuration and the CLI), refused if they can backtrack
 * catastrophically. In retryOn, the string "transient" stands for one rule on the transient
 * classes (transientRules).
 */
export function validateRules(
  raw: unknown,
  where: string,
  isSafe?: RegexCheck,
  spelling: RuleSpelling = {},
): { rules: FailureRule[]; problems: string[] } {
  const problems: string[] = [];
  const rules: FailureRule[] = [];
  const list = spelling.list ?? 'retryOn';
  const classKey = spelling.classKey ?? 'class';
  const keyOf = (k: RuleKey) => (k === 'class' ? classKey : k);
  const keys: string[] = RULE_KEYS.map(keyOf);
  if (raw === TRANSIENT_PRESET) {
    if (list === 'retryOn') return { rules: transientRules(), problems };
    return {
      rules,
      problems: [`${where} cannot be ${show(raw)}: the preset is for retryOn; list rules here, such as [{"${classKey}":"test"}]`],
    };
  }
  if (!Array.isArray(raw)) {
    const preset = list === 'retryOn' ? ` or "${TRANSIENT_PRESET}"` : '';
    return { rules, problems: [`${where} must be a list of rules${preset}, got ${show(raw)}`] };
  }
  if (raw.length > MAX_RULES) return { rules, problems: [`${where} has ${raw.length} rules; at most ${MAX_RULES}`] };
  raw.forEach((item, i) => {
    const at = `${where}[${i}]`;
    if (item === TRANSIENT_PRESET) {
      const spelled = JSON.stringify({ [classKey]: TRANSIENT_CLASSES });
      problems.push(`${at} is "${TRANSIENT_PRESET}": the preset stands for the whole list; within a list write ${spelled}`);
      return;
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${at} must be an object with code, message, category, provider and/or ${classKey}`);
      return;
    }
    const r = item as Record<string, unknown>;
    const unknown = Object.keys(r).filter((k) => !keys.includes(k));
    if (unknown.length > 0) problems.push(`${keyPath(at, unknown[0] ?? '')} is not a rule field (expected one of: ${keys.join(', ')})`);
    if (RULE_KEYS.every((k) => r[keyOf(k)] === undefined)) problems.push(`${at} must name at least one of ${keys.join(', ')}`);
    const rule: { -readonly [K in keyof FailureRule]: FailureRule[K] } = {};
    const classes = classesOf(r[classKey], `${at}.${classKey}`);
    if ('problem' in classes) problems.push(classes.problem);
    else if (classes.value !== undefined) rule.class = classes.value;
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

/** A rule's `class`: one failure class or a list of them, each once, in the order given. */
function classesOf(value: unknown, where: string): { value: FailureClass[] | undefined } | { problem: string } {
  if (value === undefined) return { value: undefined };
  const expected = `(expected: ${FAILURE_CLASSES.join(', ')})`;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    return { problem: `${where} must be a failure class or a non-empty list of them ${expected}, got ${show(value)}` };
  }
  const bad = list.find((c) => !isFailureClass(c));
  if (bad !== undefined) return { problem: `${where} has ${show(bad)}, which is not a failure class ${expected}` };
  return { value: [...new Set(list as FailureClass[])] };
}
