import { MAX_EVIDENCE } from '../../../../lambda/domain/classify';
import { failureRecordOf, MAX_RECORDED_ACTIONS, MAX_RECORDED_TESTS } from '../../../../lambda/domain/ledger';
import { MAX_RECORDED_TEST_FIELD } from '../../../../lambda/domain/test-identities';

describe('Function: failureRecordOf', () => {
  it('bounds every part of the record a ledger item keeps', () => {
    // Prepare
    const huge = 'x'.repeat(10_000);
    const tests = Array.from({ length: MAX_RECORDED_TESTS + 5 }, (_, i) => ({ reportGroup: 'g', suite: huge, name: `${i}${huge}` }));
    const actionClasses = Object.fromEntries(Array.from({ length: MAX_RECORDED_ACTIONS + 10 }, (_, i) => [`Action${i}`, 'timeout']));

    // Act
    const record = failureRecordOf({ failureClass: 'test', evidence: huge, failedTests: tests, actionClasses });

    // Assess
    expect(record.evidence).toHaveLength(MAX_EVIDENCE);
    expect(record.failedTests).toHaveLength(MAX_RECORDED_TESTS);
    for (const t of record.failedTests ?? []) expect(t.name.length).toBeLessThanOrEqual(MAX_RECORDED_TEST_FIELD);
    expect(Object.keys(record.actionClasses ?? {})).toHaveLength(MAX_RECORDED_ACTIONS);
    expect(JSON.stringify(record).length).toBeLessThan(40_000);
  });

  it('leaves out the parts that are empty', () => {
    // Act / Assess
    expect(failureRecordOf({ failureClass: 'unknown', failedTests: [], actionClasses: {} })).toEqual({ failureClass: 'unknown' });
  });
});
