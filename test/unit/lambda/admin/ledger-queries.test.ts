import { recordOf } from '../../../../lambda/admin/ledger-queries';

const login = {
  reportGroup: 'arn:aws:codebuild:eu-west-1:111111111111:report/web-app-unit',
  suite: 'LoginTest',
  name: 'rejects a bad password',
};

/** A ledger item as the table holds it (unmarshalled), with one claim and one skip. */
const item = (claimExtra: Record<string, unknown>, skipExtra: Record<string, unknown>, recordExtra: Record<string, unknown> = {}) => ({
  pk: 'LEDGER#web-app',
  sk: 'Test#e1',
  pipeline: 'web-app',
  stage: 'Test',
  executionId: 'e1',
  retries: 1,
  updatedAt: '2026-03-01T10:05:00.000Z',
  occ_1: {
    occurrence: 1,
    attempt: 1,
    status: 'retried',
    retryMode: 'FAILED_ACTIONS',
    claimedAt: '2026-03-01T10:00:00.000Z',
    dueAt: '2026-03-01T10:00:00.000Z',
    leaseUntil: '2026-03-01T10:02:00.000Z',
    token: 't',
    ...claimExtra,
  },
  skip_2: {
    occurrence: 2,
    reason: 'same-tests-failed',
    detail: 'LoginTest/rejects a bad password',
    at: '2026-03-01T10:04:00.000Z',
    ...skipExtra,
  },
  ...recordExtra,
});

describe('Function: recordOf', () => {
  it('reads the class, evidence and failed tests of a claim and a skip, and the flaky tests of the record', () => {
    // Prepare
    const classified = { failureClass: 'test', evidence: 'CodeBuild build web-app:1b2c3d4e… failed in BUILD', failedTests: [login] };
    const flaky = [{ ...login, stage: 'Test', at: '2026-03-01T10:05:00.000Z' }];

    // Act
    const record = recordOf(item(classified, classified, { flaky }));

    // Assess
    expect(record.claims[0]).toEqual(expect.objectContaining(classified));
    expect(record.skips[0]).toEqual(expect.objectContaining(classified));
    expect(record.flaky).toEqual(flaky);
  });

  it('reads a record written before classes without any of their fields', () => {
    // Act
    const record = recordOf(item({}, {}));

    // Assess
    expect(record.flaky).toEqual([]);
    for (const entry of [record.claims[0], record.skips[0]]) {
      expect(entry).toBeDefined();
      expect(entry).not.toHaveProperty('failureClass');
      expect(entry).not.toHaveProperty('evidence');
      expect(entry).not.toHaveProperty('failedTests');
    }
  });

  it('leaves out failed and flaky tests that lack a report group, a suite, a name, a stage or a time', () => {
    // Prepare
    const broken = [{ suite: 'S', name: 'no group' }, null, 'text', login];

    // Act
    const record = recordOf(
      item(
        { failedTests: broken },
        { failedTests: 'not a list' },
        { flaky: [...broken, { ...login, stage: 'Test' }, { ...login, stage: 'Test', at: 't' }] },
      ),
    );

    // Assess
    expect(record.claims[0]?.failedTests).toEqual([login]);
    expect(record.skips[0]?.failedTests).toEqual([]);
    expect(record.flaky).toEqual([{ ...login, stage: 'Test', at: 't' }]);
  });
});
