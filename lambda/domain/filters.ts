import { FailureClass } from '../../policy/failure-class';
import type { FailureRule } from '../../policy/rules';
import type { Classification } from './provider-answers';
import type { ActionView } from './types';

/**
 * How much of a message a rule's regular expression reads: error messages and summaries can be
 * long build output, and a pattern that slipped past the check must not run unbounded on it.
 */
export const MAX_MATCHED_CHARACTERS = 4096;

const same = (list: readonly string[] | undefined, value: string | undefined): boolean =>
  list === undefined || (value !== undefined && list.some((x) => x.toLowerCase() === value.toLowerCase()));

/**
 * Tests a case-insensitive pattern on a text: true or false, or undefined when it could not tell
 * (the function's matcher gives each test a time limit).
 */
export type Matcher = (pattern: string, text: string) => boolean | undefined;

/** A plain test, with no time limit: for configuration checks and the CLI's explain. */
export const plainMatch: Matcher = (pattern, text) => new RegExp(pattern, 'i').test(text);

/** The classifications of a stage's failed actions, by action name. */
export type ActionClasses = ReadonlyMap<string, Classification>;

/** An action's failure class: its classification's, or `unknown` when it has none. */
export function classOf(action: ActionView, classes: ActionClasses | undefined): FailureClass {
  return classes?.get(action.name)?.class ?? FailureClass.Unknown;
}

/**
 * Whether a rule matches a failed action. When the message pattern cannot be told in time, or
 * the rule names classes and the action's provider could not be read, the answer is `unknown`:
 * the caller leans to not retrying (a never-retry rule counts as matching, a retry rule as not).
 */
export function ruleMatches(
  rule: FailureRule,
  action: ActionView,
  match: Matcher = plainMatch,
  unknown = false,
  classes?: ActionClasses,
): boolean {
  const answer = ruleAnswer(rule, action, match, classes);
  return answer === 'match' || (answer !== 'no' && unknown);
}

/** How a rule answers for one action: it matches, it does not, or it cannot be told (and why). */
type RuleAnswer = 'match' | 'no' | 'untold-pattern' | 'untold-class';

/** Why a rule could not be told, as a decision's reason says it. */
const UNTOLD: Readonly<Record<Exclude<RuleAnswer, 'match' | 'no'>, string>> = {
  'untold-pattern': 'its pattern could not be tested in time',
  'untold-class': 'the class could not be read from the provider',
};

function ruleAnswer(rule: FailureRule, action: ActionView, match: Matcher, classes: ActionClasses | undefined): RuleAnswer {
  // A provider that could not be asked leaves the class open, unless the rule names `unknown` itself.
  const classification = classes?.get(action.name);
  const classUntold = rule.class !== undefined && !rule.class.includes(classOf(action, classes));
  if (classUntold && classification?.unread !== true) return 'no';
  if (!same(rule.code, action.errorCode)) return 'no';
  if (!same(rule.category, action.category)) return 'no';
  if (!same(rule.provider, action.provider)) return 'no';
  const message = messageAnswer(rule, action, match);
  if (message === 'no') return 'no';
  return classUntold ? 'untold-class' : message;
}

function messageAnswer(rule: FailureRule, action: ActionView, match: Matcher): 'match' | 'no' | 'untold-pattern' {
  if (rule.message === undefined) return 'match';
  const pattern = rule.message;
  const texts = [action.errorMessage, action.summary].filter((t): t is string => t !== undefined);
  const answers = texts.map((text) => match(pattern, text.slice(0, MAX_MATCHED_CHARACTERS)));
  if (answers.includes(true)) return 'match';
  return answers.includes(undefined) ? 'untold-pattern' : 'no';
}

export type FilterVerdict =
  | { readonly retry: true; readonly rule: string }
  | { readonly retry: false; readonly reason: 'never-retry-rule' | 'no-retry-rule-match'; readonly rule: string; readonly action: string };

/**
 * Applies retryOn / neverRetryOn to the failed actions of a stage. The stage is retried only if
 * every failed action may be: one never-retry failure, or one failure no retryOn rule covers,
 * is enough to leave the stage alone. neverRetryOn wins over retryOn. A rule with `class`
 * matches an action whose classification (in `classes`, by action name) has one of its classes;
 * an action without one counts as `unknown`, and one whose provider could not be read cannot be
 * told (a never-retry rule then counts as matching, a retry rule as not).
 */
export function applyFilters(
  failed: readonly ActionView[],
  retryOn: readonly FailureRule[] | undefined,
  neverRetryOn: readonly FailureRule[] | undefined,
  match: Matcher = plainMatch,
  classes?: ActionClasses,
): FilterVerdict {
  const matched = new Set<number>();
  for (const action of failed) {
    // A rule that cannot be told (a pattern out of time, a provider not read) leans to no retry: it counts as a never-retry match.
    const answers = (neverRetryOn ?? []).map((r) => ruleAnswer(r, action, match, classes));
    const never = answers.findIndex((a) => a !== 'no');
    const answer = answers[never];
    if (answer !== undefined) {
      const untold = answer === 'match' || answer === 'no' ? '' : ` (${UNTOLD[answer]}; taken as matching)`;
      return { retry: false, reason: 'never-retry-rule', rule: `neverRetryOn[${never}]${untold}`, action: action.name };
    }
    if (retryOn === undefined) continue;
    const allowed = retryOn.findIndex((r) => ruleMatches(r, action, match, false, classes));
    if (allowed < 0) return { retry: false, reason: 'no-retry-rule-match', rule: 'retryOn', action: action.name };
    matched.add(allowed);
  }
  if (retryOn === undefined) return { retry: true, rule: 'no retryOn rules: any failure' };
  return { retry: true, rule: [...matched].map((i) => `retryOn[${i}]`).join(', ') };
}
