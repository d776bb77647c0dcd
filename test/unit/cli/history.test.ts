import { historyDetails, historyRows, latestClasses, reportGroupName, statusSummary, testLabel } from '../../../cli/history';
import type { Claim } from '../../../lambda/domain/ledger';
import { ledgerClaim, ledgerRecord } from '../../support/ledger-records';

const GROUP = 'arn:aws:codebuild:eu-west-1:111111111111:report/web-app-unit';
const test = (name: string) => ({ reportGroup: GROUP, suite: 'LoginTest', name });
const PULL = 'CodeBuild build web-app:1b2c3d4e… failed in PROVISIONING: BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE';

const claim = (occurrence: number, at: string, extra: Partial<Claim> = {}): Claim =>
  ledgerClaim(occurrence, at, {
    failedAt: at,
    finishedAt: at,
    outcome: 'retried',
    reason: 'RetryStageExecution FAILED_ACTIONS',
    ...extra,
  });

const record = ledgerRecord;

describe('Function: historyRows', () => {
  it('gives each attempt and each skip the class, evidence and failed tests recorded with it', () => {
    // Prepare
    const records = [
      record('Test', 'e1', {
        claims: [claim(1, '2026-03-01T10:01:00.000Z', { failureClass: 'infrastructure', evidence: PULL })],
        skips: [
          {
            occurrence: 2,
            reason: 'same-tests-failed',
            detail: 'the same 1 test failed again: LoginTest.rejects a bad password',
            at: '2026-03-01T10:02:00.000Z',
            failureClass: 'test',
            evidence: 'CodeBuild build web-app:5e6f7a8b… failed in BUILD: 1 failed test case',
            failedTests: [test('rejects a bad password')],
          },
        ],
      }),
    ];

    // Act
    const rows = historyRows(records);

    // Assess
    expect(rows).toEqual([
      expect.objectContaining({
        decision: 'skipped',
        outcome: 'same-tests-failed',
        failureClass: 'test',
        evidence: 'CodeBuild build web-app:5e6f7a8b… failed in BUILD: 1 failed test case',
        failedTests: [test('rejects a bad password')],
      }),
      expect.objectContaining({ attempt: 1, decision: 'retried', failureClass: 'infrastructure', evidence: PULL }),
    ]);
    expect(rows[1]).not.toHaveProperty('failedTests');
  });

  it('leaves the class fields out of rows whose claims and skips have none, as before classes', () => {
    // Prepare
    const records = [
      record('Test', 'e1', {
        claims: [claim(1, '2026-03-01T10:01:00.000Z')],
        skips: [{ occurrence: 2, reason: 'max-retries', detail: 'all used', at: '2026-03-01T10:02:00.000Z' }],
      }),
    ];

    // Act
    const rows = historyRows(records);

    // Assess
    expect(rows).toEqual([
      {
        time: '2026-03-01T10:02:00.000Z',
        pipeline: 'web-app',
        stage: 'Test',
        executionId: 'e1',
        attempt: undefined,
        decision: 'skipped',
        outcome: 'max-retries',
        reason: 'all used',
      },
      {
        time: '2026-03-01T10:01:00.000Z',
        pipeline: 'web-app',
        stage: 'Test',
        executionId: 'e1',
        attempt: 1,
        decision: 'retried',
        outcome: 'retried',
        reason: 'RetryStageExecution FAILED_ACTIONS',
      },
    ]);
  });
});

describe('Function: historyDetails', () => {
  it.each<[string, Parameters<typeof historyDetails>[0], string[]]>([
    ['nothing for a row without a class', {}, []],
    ['nothing for a class without evidence', { failureClass: 'unknown' }, []],
    ['the evidence', { failureClass: 'infrastructure', evidence: PULL }, [`evidence: ${PULL}`]],
    [
      'the evidence and the failed tests',
      { failureClass: 'test', evidence: 'BUILD failed', failedTests: [test('a'), test('b')] },
      ['evidence: BUILD failed', 'failed tests (2): LoginTest.a (web-app-unit), LoginTest.b (web-app-unit)'],
    ],
    [
      'five failed tests and how many more',
      { failedTests: ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map(test) },
      [
        'failed tests (7): LoginTest.a (web-app-unit), LoginTest.b (web-app-unit), LoginTest.c (web-app-unit), ' +
          'LoginTest.d (web-app-unit), LoginTest.e (web-app-unit), and 2 more',
      ],
    ],
  ])('prints %s', (_case, row, expected) => {
    expect(historyDetails(row)).toEqual(expected);
  });
});

describe('Function: reportGroupName', () => {
  it.each([
    [GROUP, 'web-app-unit'],
    ['web-app-unit', 'web-app-unit'],
  ])('names %s as %s', (group, expected) => {
    expect(reportGroupName(group)).toBe(expected);
    expect(testLabel({ reportGroup: group, suite: 'S', name: 'n' })).toBe(`S.n (${expected})`);
    expect(testLabel({ reportGroup: group, suite: '', name: 'n' })).toBe(`n (${expected})`);
  });
});

describe('Function: latestClasses', () => {
  it('gives the class of each stage’s latest failure in the window, newest first', () => {
    // Prepare: Test's latest failure (e2, occurrence 2) is a test failure; Build's latest is unclassified;
    // Deploy's classified failure is older than the window.
    const records = [
      record('Test', 'e1', { claims: [claim(1, '2026-03-01T10:00:00.000Z', { failureClass: 'infrastructure', evidence: PULL })] }),
      record('Test', 'e2', {
        claims: [claim(1, '2026-03-01T11:00:00.000Z', { failureClass: 'timeout' })],
        skips: [
          {
            occurrence: 2,
            reason: 'never-retry-rule',
            detail: '',
            at: '2026-03-01T11:30:00.000Z',
            failureClass: 'test',
            evidence: 'BUILD',
          },
        ],
      }),
      record('Build', 'e3', {
        claims: [claim(1, '2026-03-01T10:00:00.000Z', { failureClass: 'build' }), claim(2, '2026-03-01T10:30:00.000Z')],
      }),
      record('Deploy', 'e4', { claims: [claim(1, '2026-02-27T10:00:00.000Z', { failureClass: 'permission' })] }),
    ];

    // Act
    const latest = latestClasses(records, '2026-03-01T00:00:00.000Z');

    // Assess
    expect(latest).toEqual([
      { pipeline: 'web-app', stage: 'Test', executionId: 'e2', failureClass: 'test', evidence: 'BUILD', at: '2026-03-01T11:30:00.000Z' },
    ]);
  });

  it('is part of the status summary, empty for records without classes', () => {
    // Act
    const summary = statusSummary(
      [record('Test', 'e1', { claims: [claim(1, '2026-03-01T10:00:00.000Z')] })],
      [],
      new Date('2026-03-01T00:00:00.000Z'),
    );

    // Assess
    expect(summary.latestClasses).toEqual([]);
  });
});
