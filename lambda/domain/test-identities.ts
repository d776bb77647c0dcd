import { clip, fields, list, text } from './answer-reading';
import type { TestCaseAnswer, TestIdentity } from './provider-answers';

/**
 * Which tests failed, by what makes a test the same test in another run of the build: its
 * report group, its suite and its name. "The same tests failed again" compares these sets.
 */

/** The statuses of a failed test case (DescribeTestCases): a failed assertion, or an error running it. */
export const FAILED_CASE_STATUSES: readonly string[] = ['FAILED', 'ERROR'];

const REPORT = ':report/';

/**
 * The report group of a report: its ARN without the run id, as CodeBuild names reports
 * `arn:aws:codebuild:<region>:<account>:report/<group-name>:<report-id>`. Anything else is
 * kept as it is.
 */
export function reportGroupOf(reportArn: string): string {
  const at = reportArn.indexOf(REPORT);
  if (at < 0) return reportArn;
  const run = reportArn.lastIndexOf(':');
  return run > at + REPORT.length ? reportArn.slice(0, run) : reportArn;
}

const keyOf = (t: TestIdentity) => `${t.reportGroup}\u0000${t.suite}\u0000${t.name}`;

/**
 * The identities of the failed cases among `cases` (FAILED or ERROR; a case without a status
 * counts, as the caller asked for failed cases), each once, sorted. The suite is the case's
 * testSuiteName, or else CodeBuild's prefix; a case without a name identifies nothing and is
 * left out.
 */
export function testIdentities(cases: readonly TestCaseAnswer[]): TestIdentity[] {
  const found = new Map<string, TestIdentity>();
  for (const raw of list(cases)) {
    const c = fields(raw);
    const status = text(c.status);
    const name = text(c.name);
    if (name === undefined || (status !== undefined && !FAILED_CASE_STATUSES.includes(status))) continue;
    const identity: TestIdentity = {
      reportGroup: reportGroupOf(text(c.reportArn) ?? ''),
      suite: text(c.testSuiteName) ?? text(c.prefix) ?? '',
      name,
    };
    found.set(keyOf(identity), identity);
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, identity]) => identity);
}

/**
 * Whether two attempts failed with the same set of tests: the failure is deterministic. A
 * different set, a larger or a smaller one is not the same; neither are two empty sets (no test
 * failed, so tests say nothing).
 */
export function sameTests(before: readonly TestIdentity[], after: readonly TestIdentity[]): boolean {
  const a = new Set(before.map(keyOf));
  const b = new Set(after.map(keyOf));
  return a.size > 0 && a.size === b.size && [...a].every((key) => b.has(key));
}

/** How many tests a line names before it says how many more there are. */
export const NAMED_TESTS = 5;

/** The most characters of a test's report group, suite or name a record keeps (a parameterised name can be kilobytes). */
export const MAX_RECORDED_TEST_FIELD = 256;

/** The most characters a line gives one test's `suite.name`. */
export const MAX_NAMED_TEST = 120;

/**
 * A test identity as a record keeps it: only its three fields, each at most
 * MAX_RECORDED_TEST_FIELD characters, so that a ledger item stays far below DynamoDB's 400 KB.
 * The comparison of "the same tests" uses the identities as read, never these.
 */
export function recordedTest({ reportGroup, suite, name }: TestIdentity): TestIdentity {
  return {
    reportGroup: clip(reportGroup, MAX_RECORDED_TEST_FIELD),
    suite: clip(suite, MAX_RECORDED_TEST_FIELD),
    name: clip(name, MAX_RECORDED_TEST_FIELD),
  };
}

/** The tests, named `suite.name` (each at most MAX_NAMED_TEST characters), at most NAMED_TESTS of them, then "and N more". */
export function namedTests(tests: readonly TestIdentity[]): string {
  const names = tests.slice(0, NAMED_TESTS).map((t) => clip(t.suite ? `${t.suite}.${t.name}` : t.name, MAX_NAMED_TEST));
  const more = tests.length - names.length;
  return more > 0 ? `${names.join(', ')} and ${more} more` : names.join(', ');
}
