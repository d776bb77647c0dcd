import { randomUUID } from 'node:crypto';
import { DynamoTable } from '../../lambda/adapters/dynamo-table';
import { LedgerStore } from '../../lambda/adapters/ledger-store';
import { TableNames } from '../../lambda/adapters/table-names';
import { ClaimStatus } from '../../lambda/domain/ledger';
import { LocalDynamo } from '../../local/dynamo';
import { StsEmulator } from '../../local/sts-emulator';
import { type CliResult, runCli } from '../support';

/** The CLI over the ledger of an organization deployment: every account's retries in one report. */
const dynamo = new LocalDynamo();
const sts = new StsEmulator();
const TABLE = 'cli-org-table';
const CENTRAL = { account: '111111111111', region: 'us-east-1' };
const MEMBER = { account: '222222222222', region: 'eu-west-1' };

function autoretry(args: string[]): Promise<CliResult> {
  return runCli(args, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ENDPOINT_URL_STS: sts.endpoint, TABLE_NAME: TABLE });
}

/** One retried failure of `pipeline`/Test in `at`, written as the retry function writes it. */
async function retried(at: typeof CENTRAL, pipeline: string): Promise<void> {
  const store = new LedgerStore(new DynamoTable(TABLE, dynamo.client()), { names: new TableNames(CENTRAL), retentionSeconds: 86_400 });
  const key = { ...at, pipeline, stage: 'Test', executionId: randomUUID() };
  const now = new Date();
  const result = await store.claim(key, {
    occurrence: 1,
    status: ClaimStatus.Retrying,
    retryMode: 'FAILED_ACTIONS',
    dueAt: now,
    leaseUntil: new Date(now.getTime() + 60_000),
    token: randomUUID(),
    fingerprint: 'f',
    maxRetries: 2,
    failedAt: now,
    now,
  });
  if (result.kind !== 'claimed') throw new Error(`claim failed: ${result.kind}`);
  await store.finish(key, result.claim, { status: ClaimStatus.Retried, outcome: 'retried', reason: 'test', now });
}

beforeAll(async () => {
  await Promise.all([dynamo.start(), sts.start()]);
  await dynamo.createTable(TABLE);
  await retried(CENTRAL, 'web-app');
  await retried(MEMBER, 'web-app');
  await retried(MEMBER, 'web-app');
});

afterAll(async () => {
  await Promise.all([dynamo.stop(), sts.stop()]);
});

describe('CLI: autoretry over an organization', () => {
  it('reports every account’s retries in one report, the same pipeline name apart by account and region', async () => {
    // Act
    const result = await autoretry(['report', '--json']);

    // Assess
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as { account?: string; region?: string; pipeline: string; retries: number }[];
    expect(rows).toEqual([
      expect.objectContaining({ account: MEMBER.account, region: MEMBER.region, pipeline: 'web-app', retries: 2 }),
      expect.objectContaining({ pipeline: 'web-app', retries: 1 }),
    ]);
    expect(rows[1]?.account).toBeUndefined();
  });

  it('filters the report to one account, and names member pipelines with their account and region', async () => {
    // Act
    const member = await autoretry(['report', '--account', MEMBER.account]);
    const central = await autoretry(['report', '--account', 'central', '--csv']);

    // Assess
    expect(member.stdout).toContain(`${MEMBER.account}/${MEMBER.region}/web-app`);
    expect(central.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/,account,region$/),
      expect.stringMatching(/^web-app,Test,1,1,.*,,$/),
    ]);
  });

  it('shows the history of a member account’s pipeline', async () => {
    // Act
    const result = await autoretry(['history', `${MEMBER.account}/${MEMBER.region}/web-app`, '--json']);

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toHaveLength(2);
  });

  it("sets an account's defaults and a policy for a pipeline in one account, and shows where each field comes from", async () => {
    // Act
    const account = await autoretry(['policy', 'set', `account:${MEMBER.account}`, '--max-retries', '4']);
    const stage = await autoretry(['policy', 'set', `${MEMBER.account}/web-app`, '--stage', 'Deploy', '--max-retries', '0']);
    const memberView = await autoretry(['policy', 'get', `${MEMBER.account}/web-app`, '--stage', 'Deploy', '--json']);
    const elsewhere = await autoretry(['policy', 'get', 'web-app', '--stage', 'Deploy', '--json']);

    // Assess
    expect(account.stdout).toContain(`set account ${MEMBER.account}: maxRetries=4`);
    expect(stage.stdout).toContain(`set stage ${MEMBER.account}/web-app/Deploy: maxRetries=0`);
    expect(JSON.parse(memberView.stdout)).toEqual(
      expect.objectContaining({
        account: MEMBER.account,
        policy: expect.objectContaining({ maxRetries: 0 }),
        sources: expect.objectContaining({ maxRetries: 'stage' }),
      }),
    );
    expect(JSON.parse(elsewhere.stdout).policy.maxRetries).toBe(2);
  });

  it('pauses one account and lists the switch', async () => {
    // Act
    const paused = await autoretry(['pause', `account:${MEMBER.account}`]);
    const status = await autoretry(['status']);
    await autoretry(['resume', `account:${MEMBER.account}`]);

    // Assess
    expect(paused.stdout).toContain(`paused automatic retries of account:${MEMBER.account}`);
    expect(status.stdout).toContain(`account:${MEMBER.account}`);
  });

  it.each([
    [['policy', 'set', 'account:12', '--max-retries', '1'], 'an account is 12 digits'],
    [['policy', 'set', `account:${MEMBER.account}`, '--stage', 'Test', '--max-retries', '1'], '--stage needs a pipeline, not an account'],
    [['history', '2222/eu-west-1/web-app'], 'is not a valid CodePipeline name, nor <account>/<region>/<pipeline>'],
    [['report', '--account', 'member'], '--account must be a 12-digit account id or "central"'],
  ])('refuses %j in one line', async (args, message) => {
    // Act
    const result = await autoretry(args);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
