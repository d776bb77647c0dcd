import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TableKeys } from '../../contract';
import { DynamoTable } from '../../lambda/adapters/dynamo-table';
import { LedgerStore } from '../../lambda/adapters/ledger-store';
import { TableNames } from '../../lambda/adapters/table-names';
import { ClaimStatus, type LedgerKey } from '../../lambda/domain/ledger';
import type { TestIdentity } from '../../lambda/domain/provider-answers';
import { LocalDynamo } from '../../local/dynamo';
import { type CliResult, ROOT, runCli } from '../support';

/**
 * `history`, `status` and `report` over ledger records that carry failure classes, evidence,
 * failed tests and flaky tests. The records are written through the real table by the ledger
 * store, and the class fields added to them as the classifying retry function writes them.
 */
const dynamo = new LocalDynamo();
const TABLE = 'cli-classes-table';
const table = () => new DynamoTable(TABLE, dynamo.client());
const store = () => new LedgerStore(table(), { names: new TableNames(undefined), retentionSeconds: 86_400 });

function autoretry(args: readonly string[]): Promise<CliResult> {
  return runCli(args, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, TABLE_NAME: TABLE });
}

const GROUP = 'arn:aws:codebuild:us-east-1:111111111111:report/web-app-unit';
const LOGIN: TestIdentity = { reportGroup: GROUP, suite: 'LoginTest', name: 'rejects a bad password' };
const CART: TestIdentity = { reportGroup: GROUP, suite: 'CartTest', name: 'adds an item' };
const PULL = 'CodeBuild build web-app-test:1b2c3d4e… failed in PROVISIONING: BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE';
const testsFailed = (build: string, tests: readonly TestIdentity[]) =>
  `CodeBuild build web-app-test:${build}… failed in BUILD: COMMAND_EXECUTION_ERROR; ${tests.length} failed test${tests.length === 1 ? '' : 's'}: ` +
  tests.map((t) => `${t.suite}.${t.name}`).join(', ');

interface Classified {
  readonly failureClass: string;
  readonly evidence: string;
  readonly failedTests?: readonly TestIdentity[];
}

/** The moment `minutes` after the scenario began, three hours ago. */
const base = Date.now() - 3 * 3600_000;
const at = (minutes: number) => new Date(base + minutes * 60_000);
const key = (stage: string, executionId: string): LedgerKey => ({ pipeline: 'web-app', stage, executionId });

/** Adds the class fields to a claim (`occ_<n>`) or skip (`skip_<n>`), as the classifying function writes them. */
async function classify(k: LedgerKey, attribute: string, c: Classified): Promise<void> {
  await table().update(TableKeys.ledger(k.pipeline, k.stage, k.executionId), {
    expression: `SET #entry.failureClass = :class, #entry.evidence = :evidence${c.failedTests ? ', #entry.failedTests = :tests' : ''}`,
    names: { '#entry': attribute },
    values: { ':class': c.failureClass, ':evidence': c.evidence, ...(c.failedTests ? { ':tests': c.failedTests } : {}) },
  });
}

/** Occurrence `occurrence` of a failure at `minute`, retried a minute later, with its class when it has one. */
async function retried(k: LedgerKey, occurrence: number, minute: number, c?: Classified): Promise<void> {
  const claimed = await store().claim(k, {
    occurrence,
    status: ClaimStatus.Retrying,
    retryMode: 'FAILED_ACTIONS',
    dueAt: at(minute),
    leaseUntil: at(minute + 2),
    token: `token-${occurrence}`,
    fingerprint: 'f',
    maxRetries: 3,
    failedAt: at(minute),
    now: at(minute),
  });
  if (claimed.kind !== 'claimed') throw new Error(`claim failed: ${claimed.kind}`);
  await store().finish(k, claimed.claim, {
    status: ClaimStatus.Retried,
    outcome: 'retried',
    reason: 'RetryStageExecution FAILED_ACTIONS',
    now: at(minute + 1),
  });
  if (c) await classify(k, `occ_${occurrence}`, c);
}

/** The stage execution succeeded at `minute` after our retries; `flaky` failed before and passed now. */
async function recovered(k: LedgerKey, minute: number, flaky: readonly TestIdentity[] = []): Promise<void> {
  await store().recordRecovery(k, at(minute));
  if (flaky.length === 0) return;
  await table().update(TableKeys.ledger(k.pipeline, k.stage, k.executionId), {
    expression: 'SET flaky = :flaky',
    values: { ':flaky': flaky.map((t) => ({ ...t, stage: k.stage, at: at(minute).toISOString() })) },
  });
}

const A = key('Test', '5c3e1f0a-2b4d-4e6f-8a1b-3c5d7e9f0a2b');
const B = key('Test', '7d2b9e41-6c8a-4f3e-9d2b-1a4c6e8f0b3d');
const C = key('Test', '8a4f6c2d-3e5b-4a7c-8d9e-0f1a2b3c4d5e');
const D = key('Deploy', '9b5a7d3e-4f6c-4b8d-9e0f-1a2b3c4d5e6f');
const E = key('Test', 'a1c2d3e4-5f6a-4b7c-8d9e-0a1b2c3d4e5f');

beforeAll(async () => {
  await dynamo.start();
  await dynamo.createTable(TABLE);
  // A: an image pull that failed in provisioning, cured by a retry.
  await retried(A, 1, 0, { failureClass: 'infrastructure', evidence: PULL });
  await recovered(A, 5);
  // B and E: a test that failed and passed on the retry (flaky, twice).
  await retried(B, 1, 10, { failureClass: 'test', evidence: testsFailed('5e6f7a8b', [LOGIN]), failedTests: [LOGIN] });
  await recovered(B, 15, [LOGIN]);
  await retried(E, 1, 40, { failureClass: 'test', evidence: testsFailed('9f8e7d6c', [LOGIN]), failedTests: [LOGIN] });
  await recovered(E, 45, [LOGIN]);
  // C: two tests that failed, and failed again after the retry: left alone.
  const both = { failureClass: 'test', failedTests: [CART, LOGIN] };
  await retried(C, 1, 20, { ...both, evidence: testsFailed('2a3b4c5d', [CART, LOGIN]) });
  const detail = 'the same 2 tests failed again: CartTest.adds an item, LoginTest.rejects a bad password';
  await store().recordSkip(C, { occurrence: 2, reason: 'same-tests-failed', detail, now: at(25), failedAt: at(25) });
  await classify(C, 'skip_2', { ...both, evidence: testsFailed('6e7f8a9b', [CART, LOGIN]) });
  // D: a record from before classes, retried and recovered.
  await retried(D, 1, 30);
  await recovered(D, 35);
});

afterAll(async () => {
  await dynamo.stop();
});

/** A docs/CLI.md sample: the lines of the block whose first line is `$ npx autoretry <command>`, after that line. */
function docsSample(command: string): string[] {
  const docs = readFileSync(join(ROOT, 'docs', 'CLI.md'), 'utf8');
  const start = docs.indexOf(`\`\`\`\n$ npx autoretry ${command}\n`);
  if (start < 0) throw new Error(`docs/CLI.md has no sample of autoretry ${command}`);
  const body = docs.slice(start + `\`\`\`\n$ npx autoretry ${command}\n`.length);
  return body.slice(0, body.indexOf('\n```')).split('\n');
}

/** Lines with the times of the run put as placeholders. */
const normalised = (lines: readonly string[]) => lines.map((l) => l.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/g, '<time>').trimEnd());

describe('CLI: autoretry history, with failure classes', () => {
  it('gives each row its class, evidence and failed tests in JSON, and none to a row from before classes', async () => {
    // Act
    const result = await autoretry(['history', 'web-app', '--json']);

    // Assess
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.executionId, r.decision, r.failureClass])).toEqual([
      [E.executionId, 'retried', 'test'],
      [D.executionId, 'retried', undefined],
      [C.executionId, 'skipped', 'test'],
      [C.executionId, 'retried', 'test'],
      [B.executionId, 'retried', 'test'],
      [A.executionId, 'retried', 'infrastructure'],
    ]);
    expect(rows[2]).toEqual(
      expect.objectContaining({
        outcome: 'same-tests-failed',
        evidence: testsFailed('6e7f8a9b', [CART, LOGIN]),
        failedTests: [CART, LOGIN],
      }),
    );
    expect(rows[5]).toEqual(expect.objectContaining({ evidence: PULL }));
    expect(Object.keys(rows[1] ?? {})).toEqual(['time', 'pipeline', 'stage', 'executionId', 'attempt', 'decision', 'outcome', 'reason']);
  });

  it('prints a CLASS column, `-` where no class is known, and the evidence and failed tests under a classified row', async () => {
    // Act
    const result = await autoretry(['history', 'web-app', '--limit', '4']);

    // Assess
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+STAGE\s+EXECUTION\s+ATTEMPT\s+CLASS\s+DECISION\s+OUTCOME\s+REASON$/);
    expect(lines.filter((l) => /^\d{4}-/.test(l)).map((l) => l.split(/\s{2,}/)[4])).toEqual(['test', '-', 'test', 'test']);
    expect(lines).toContain(`  evidence: ${testsFailed('6e7f8a9b', [CART, LOGIN])}`);
    expect(lines).toContain('  failed tests (2): CartTest.adds an item (web-app-unit), LoginTest.rejects a bad password (web-app-unit)');
  });

  it('prints what docs/CLI.md shows', async () => {
    // Act
    const result = await autoretry(['history', 'web-app', '--limit', '4']);

    // Assess
    expect(normalised(result.stdout.trimEnd().split('\n'))).toEqual(normalised(docsSample('history web-app --limit 4')));
  });
});

describe('CLI: autoretry status, with failure classes', () => {
  it('names the class of each stage’s latest failure where it is known', async () => {
    // Act
    const json = await autoretry(['status', '--json']);
    const text = await autoretry(['status']);

    // Assess: Deploy's latest failure has no class, so only Test is named.
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { latestClasses: unknown }).latestClasses).toEqual([
      {
        pipeline: 'web-app',
        stage: 'Test',
        executionId: E.executionId,
        failureClass: 'test',
        evidence: testsFailed('9f8e7d6c', [LOGIN]),
        at: at(40).toISOString(),
      },
    ]);
    expect(text.stdout).toContain('Class of the latest failure, per stage: 1\n');
    expect(text.stdout).toMatch(
      /\n {2}web-app\/Test {2}test {2}at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}CodeBuild build web-app-test:9f8e7d6c… failed in BUILD/,
    );
  });
});

describe('CLI: autoretry report, with failure classes', () => {
  it('keeps the stage section as it was, and adds recovery by class and the flaky tests, as docs/CLI.md shows', async () => {
    // Act
    const result = await autoretry(['report', '--since', '7d']);

    // Assess
    expect(result.code).toBe(0);
    expect(normalised(result.stdout.trimEnd().split('\n'))).toEqual(normalised(docsSample('report --since 7d')));
  });

  it.each<[string, string[], unknown]>([
    [
      'the classes',
      ['--section', 'classes'],
      [
        { failureClass: 'test', failures: 4, retried: 3, recovered: 2, recoveryRate: 2 / 3 },
        { failureClass: 'infrastructure', failures: 1, retried: 1, recovered: 1, recoveryRate: 1 },
        { failureClass: 'unclassified', failures: 1, retried: 1, recovered: 1, recoveryRate: 1 },
      ],
    ],
    [
      'the flaky tests',
      ['--section', 'flaky'],
      [{ pipeline: 'web-app', stage: 'Test', ...LOGIN, count: 2, lastSeen: at(45).toISOString() }],
    ],
    [
      'the stages, as before, without --section',
      [],
      [
        expect.objectContaining({ stage: 'Test', failures: 5, retries: 4, recovered: 3, skipped: { 'same-tests-failed': 1 } }),
        expect.objectContaining({ stage: 'Deploy', failures: 1, retries: 1, recovered: 1 }),
      ],
    ],
  ])('gives %s in JSON', async (_case, args, expected) => {
    // Act
    const result = await autoretry(['report', ...args, '--json']);

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(expected);
  });

  it('writes the flaky tests as CSV', async () => {
    // Act
    const result = await autoretry(['report', '--section', 'flaky', '--csv']);

    // Assess
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'pipeline,stage,report_group,suite,name,count,last_seen,account,region',
      `web-app,Test,${GROUP},LoginTest,rejects a bad password,2,${at(45).toISOString()},,`,
    ]);
  });

  it('refuses a section it does not have, in one line with exit code 2', async () => {
    // Act
    const result = await autoretry(['report', '--section', 'tests']);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('error: --section must be one of stages, classes, flaky, got "tests"');
  });
});
