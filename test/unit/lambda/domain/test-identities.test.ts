import {
  MAX_NAMED_TEST,
  MAX_RECORDED_TEST_FIELD,
  NAMED_TESTS,
  namedTests,
  recordedTest,
  sameTests,
} from '../../../../lambda/domain/test-identities';

const long = (c: string) => c.repeat(5_000);

describe('Function: recordedTest', () => {
  it('keeps only the three identity fields, each at most MAX_RECORDED_TEST_FIELD characters', () => {
    // Prepare
    const read = { reportGroup: long('g'), suite: long('s'), name: long('n'), status: 'FAILED' } as const;

    // Act
    const kept = recordedTest(read);

    // Assess
    expect(Object.keys(kept).sort()).toEqual(['name', 'reportGroup', 'suite']);
    expect(kept.reportGroup).toHaveLength(MAX_RECORDED_TEST_FIELD);
    expect(kept.suite).toHaveLength(MAX_RECORDED_TEST_FIELD);
    expect(kept.name).toHaveLength(MAX_RECORDED_TEST_FIELD);
    expect(kept.name.endsWith('…')).toBe(true);
  });

  it('keeps a test of ordinary length as it was read', () => {
    // Act / Assess
    expect(recordedTest({ reportGroup: 'web-app-tests', suite: 'cart', name: 'adds an item' })).toEqual({
      reportGroup: 'web-app-tests',
      suite: 'cart',
      name: 'adds an item',
    });
  });
});

describe('Function: namedTests', () => {
  it('names each test in at most MAX_NAMED_TEST characters and says how many more there are', () => {
    // Prepare
    const tests = Array.from({ length: NAMED_TESTS + 2 }, (_, i) => ({ reportGroup: 'g', suite: 's', name: `${i}${long('x')}` }));

    // Act
    const line = namedTests(tests);

    // Assess
    const names = line.replace(/ and 2 more$/, '').split(', ');
    expect(names).toHaveLength(NAMED_TESTS);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(MAX_NAMED_TEST);
    expect(line.endsWith(' and 2 more')).toBe(true);
  });
});

describe('Function: sameTests', () => {
  it('compares the identities as read, not as a record clips them', () => {
    // Prepare: two names that differ only beyond the part a record keeps
    const a = { reportGroup: 'g', suite: 's', name: `${long('x')}a` };
    const b = { reportGroup: 'g', suite: 's', name: `${long('x')}b` };

    // Act / Assess
    expect(recordedTest(a)).toEqual(recordedTest(b));
    expect(sameTests([a], [b])).toBe(false);
    expect(sameTests([a], [a])).toBe(true);
  });
});
