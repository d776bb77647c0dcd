import { classCsv, classReport, flakyCsv, flakyTests } from '../../../cli/failure-report';
import { flakinessReport, reportCsv } from '../../../cli/report';
import type { Claim } from '../../../lambda/domain/ledger';
import { ledgerClaim, ledgerRecord } from '../../support/ledger-records';

const claim = (occurrence: number, status: Claim['status'], outcome?: string): Claim =>
  ledgerClaim(occurrence, '2026-03-01T10:00:00.000Z', {
    status,
    leaseUntil: '2026-03-01T10:02:00.000Z',
    ...(outcome ? { outcome } : {}),
  });

const record = ledgerRecord;

describe('Function: flakinessReport', () => {
  it('counts failures, retries, recoveries, exhaustion and skips per stage', () => {
    // Prepare: Test recovered after 1 retry in e1, after 2 in e2, ran out in e3; Deploy was filtered once.
    const records = [
      record('Test', 'e1', { claims: [claim(1, 'retried')], recoveredAt: '2026-03-01T10:06:00Z', recoveredAfter: 1 }),
      record('Test', 'e2', { claims: [claim(1, 'retried'), claim(2, 'retried')], recoveredAt: '2026-03-01T10:09:00Z', recoveredAfter: 2 }),
      record('Test', 'e3', {
        claims: [claim(1, 'retried'), claim(2, 'retried')],
        skips: [{ occurrence: 3, reason: 'max-retries', detail: '', at: '2026-03-01T10:10:00Z' }],
      }),
      record('Deploy', 'e4', { skips: [{ occurrence: 1, reason: 'never-retry-rule', detail: '', at: '2026-03-01T10:10:00Z' }] }),
      record('Deploy', 'e5', { claims: [claim(1, 'abandoned', 'superseded')] }),
    ];

    // Act
    const rows = flakinessReport(records);

    // Assess
    expect(rows).toEqual([
      {
        pipeline: 'web-app',
        stage: 'Test',
        failures: 6,
        retries: 5,
        recovered: 2,
        exhausted: 1,
        skipped: { 'max-retries': 1 },
        recoveryRate: 2 / 3,
        meanAttemptsToRecovery: 1.5,
      },
      {
        pipeline: 'web-app',
        stage: 'Deploy',
        failures: 2,
        retries: 0,
        recovered: 0,
        exhausted: 0,
        skipped: { 'never-retry-rule': 1, superseded: 1 },
        recoveryRate: null,
        meanAttemptsToRecovery: null,
      },
    ]);
  });

  it('writes CSV with a header, account and region last, empty for the central account', () => {
    // Act
    const lines = reportCsv(
      flakinessReport([
        record('Test', 'e1', { claims: [claim(1, 'retried')], recoveredAt: 'x', recoveredAfter: 1 }),
        record('Test', 'e2', { account: '222222222222', region: 'eu-west-1', claims: [claim(1, 'retried'), claim(2, 'retried')] }),
      ]),
    );

    // Assess
    expect(lines).toEqual([
      'pipeline,stage,failures,retries,recovered,exhausted,recovery_rate,mean_attempts_to_recovery,skipped,account,region',
      'web-app,Test,2,2,0,0,0.000,,,222222222222,eu-west-1',
      'web-app,Test,1,1,1,0,1.000,1.00,,,',
    ]);
  });
});

const tests = {
  login: {
    reportGroup: 'arn:aws:codebuild:eu-west-1:111111111111:report/web-app-unit',
    suite: 'LoginTest',
    name: 'rejects a bad password',
  },
  cart: { reportGroup: 'arn:aws:codebuild:eu-west-1:111111111111:report/web-app-unit', suite: 'CartTest', name: 'adds an item' },
} as const;

const classified = (c: Claim, failureClass: string): Claim => ({ ...c, failureClass, evidence: `a ${failureClass} failure` });

describe('Function: classReport', () => {
  it('counts failures, retries and recoveries per class, crediting a recovery to the failure whose retry was the last', () => {
    // Prepare: e1 recovered after a retried infrastructure failure; e2 recovered after a test
    // failure and then a timeout; e3's test failure was left alone; e4 knows no class.
    const records = [
      record('Test', 'e1', { claims: [classified(claim(1, 'retried'), 'infrastructure')], recoveredAt: 'x', recoveredAfter: 1 }),
      record('Test', 'e2', {
        claims: [classified(claim(1, 'retried'), 'test'), classified(claim(2, 'retried'), 'timeout')],
        recoveredAt: 'x',
        recoveredAfter: 2,
      }),
      record('Test', 'e3', {
        skips: [{ occurrence: 1, reason: 'never-retry-rule', detail: '', at: 'x', failureClass: 'test', failedTests: [tests.login] }],
      }),
      record('Deploy', 'e4', { claims: [claim(1, 'retried')] }),
      record('Deploy', 'e5', { claims: [classified(claim(1, 'abandoned', 'superseded'), 'unknown')] }),
    ];

    // Act
    const rows = classReport(records);

    // Assess
    expect(rows).toEqual([
      { failureClass: 'test', failures: 2, retried: 1, recovered: 0, recoveryRate: 0 },
      { failureClass: 'unclassified', failures: 2, retried: 1, recovered: 0, recoveryRate: 0 },
      { failureClass: 'infrastructure', failures: 1, retried: 1, recovered: 1, recoveryRate: 1 },
      { failureClass: 'timeout', failures: 1, retried: 1, recovered: 1, recoveryRate: 1 },
    ]);
  });

  it('takes the class of an occurrence from its skip when its claim has none', () => {
    // Prepare: the claim was abandoned, and the skip of the same occurrence says why it failed.
    const records = [
      record('Deploy', 'e1', {
        claims: [claim(1, 'abandoned', 'superseded')],
        skips: [{ occurrence: 1, reason: 'stage-changed', detail: '', at: 'x', failureClass: 'deployment-health' }],
      }),
    ];

    // Act
    const rows = classReport(records);

    // Assess
    expect(rows).toEqual([{ failureClass: 'deployment-health', failures: 1, retried: 0, recovered: 0, recoveryRate: null }]);
  });

  it('puts every failure of records written before classes under unclassified', () => {
    // Act
    const rows = classReport([record('Test', 'e1', { claims: [claim(1, 'retried')], recoveredAt: 'x', recoveredAfter: 1 })]);

    // Assess
    expect(rows).toEqual([{ failureClass: 'unclassified', failures: 1, retried: 1, recovered: 1, recoveryRate: 1 }]);
  });

  it('writes CSV with a header and an empty rate where nothing was retried', () => {
    // Act
    const lines = classCsv([
      { failureClass: 'test', failures: 3, retried: 2, recovered: 1, recoveryRate: 0.5 },
      { failureClass: 'permission', failures: 1, retried: 0, recovered: 0, recoveryRate: null },
    ]);

    // Assess
    expect(lines).toEqual(['failure_class,failures,retried,recovered,recovery_rate', 'test,3,2,1,0.500', 'permission,1,0,0,']);
  });
});

describe('Function: flakyTests', () => {
  it('counts each flaky test per stage, most frequent first, with when it was last seen', () => {
    // Prepare: login was flaky in Test twice, cart once (later); a member's login once in its own pipeline.
    const records = [
      record('Test', 'e1', { flaky: [{ ...tests.login, stage: 'Test', at: '2026-03-01T10:06:00.000Z' }] }),
      record('Test', 'e2', {
        flaky: [
          { ...tests.login, stage: 'Test', at: '2026-03-02T10:06:00.000Z' },
          { ...tests.cart, stage: 'Test', at: '2026-03-03T10:06:00.000Z' },
        ],
      }),
      record('Test', 'e3', {
        account: '222222222222',
        region: 'eu-west-1',
        flaky: [{ ...tests.login, stage: 'Test', at: '2026-03-01T09:00:00.000Z' }],
      }),
      record('Test', 'e4', {}),
    ];

    // Act
    const rows = flakyTests(records);

    // Assess
    expect(rows).toEqual([
      { pipeline: 'web-app', stage: 'Test', ...tests.login, count: 2, lastSeen: '2026-03-02T10:06:00.000Z' },
      { pipeline: 'web-app', stage: 'Test', ...tests.cart, count: 1, lastSeen: '2026-03-03T10:06:00.000Z' },
      {
        account: '222222222222',
        region: 'eu-west-1',
        pipeline: 'web-app',
        stage: 'Test',
        ...tests.login,
        count: 1,
        lastSeen: '2026-03-01T09:00:00.000Z',
      },
    ]);
  });

  it('finds none in records that name no flaky tests', () => {
    // Act
    const rows = flakyTests([record('Test', 'e1', { claims: [claim(1, 'retried')] })]);

    // Assess
    expect(rows).toEqual([]);
  });

  it('writes CSV with a header, quoting names that hold a comma', () => {
    // Act
    const lines = flakyCsv([
      { pipeline: 'web-app', stage: 'Test', reportGroup: 'g', suite: 'S', name: 'adds, then removes', count: 2, lastSeen: 't' },
    ]);

    // Assess
    expect(lines).toEqual([
      'pipeline,stage,report_group,suite,name,count,last_seen,account,region',
      'web-app,Test,g,S,"adds, then removes",2,t,,',
    ]);
  });
});
