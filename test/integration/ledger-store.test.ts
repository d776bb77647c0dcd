import { randomUUID } from 'node:crypto';
import { OPEN_CLAIMS_INDEX, TableKeys } from '../../contract';
import { DynamoTable } from '../../lambda/adapters/dynamo-table';
import { LedgerStore } from '../../lambda/adapters/ledger-store';
import { TableNames } from '../../lambda/adapters/table-names';
import { type Claim, ClaimStatus, type LedgerKey } from '../../lambda/domain/ledger';
import { Outcome } from '../../lambda/domain/reasons';
import type { FaultProxy, ProxiedCall, ProxyFault } from '../../local/fault-proxy';
import { proxiedDynamoClient, useLocalAws } from '../support';

/**
 * The ledger store against dynalite through a fault proxy: each kind of write, its answer lost
 * after DynamoDB took it (the SDK resends it and the resend fails its condition), must count as
 * done exactly once. And the OpenClaims index must hold a record exactly while it has an open claim.
 */
const aws = useLocalAws();
const NOW = new Date('2026-03-01T10:15:02Z');
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
let proxy: FaultProxy;
let store: LedgerStore;

beforeAll(async () => {
  proxy = await aws.ownFaults();
  const client = proxiedDynamoClient(proxy);
  store = new LedgerStore(new DynamoTable(aws.tableName, client), { names: new TableNames(undefined), retentionSeconds: 86_400 });
});

beforeEach(() => proxy.clear());

function key(): LedgerKey {
  return {
    account: '123456789012',
    region: 'us-east-1',
    pipeline: `ls-${randomUUID().slice(0, 8)}`,
    stage: 'Test',
    executionId: randomUUID(),
  };
}

async function claimOne(k: LedgerKey, status: 'scheduled' | 'retrying' = ClaimStatus.Retrying, occurrence = 1): Promise<Claim> {
  const result = await store.claim(k, {
    occurrence,
    status,
    retryMode: 'FAILED_ACTIONS',
    dueAt: NOW,
    leaseUntil: later(120 + occurrence),
    token: `t-${occurrence}`,
    fingerprint: 'UnitTests:a-1',
    maxRetries: 2,
    failedAt: NOW,
    now: NOW,
  });
  if (result.kind !== 'claimed') throw new Error(`not claimed: ${result.kind}`);
  return result.claim;
}

/** The next UpdateItem whose expression contains `text` meets `fault` after DynamoDB took it. */
function loseAnswer(text: string, fault: ProxyFault = 'apply-then-500') {
  proxy.inject({ match: (c: ProxiedCall) => c.operation === 'UpdateItem' && String(c.input.UpdateExpression).includes(text), fault });
}

/** The record as operators read it (a central-account pipeline: its bare name). */
const record = (k: LedgerKey) => aws.ledger().getRecord({ pipeline: k.pipeline, stage: k.stage, executionId: k.executionId });

const indexed = async (k: LedgerKey) =>
  (await aws.table().queryIndex(OPEN_CLAIMS_INDEX, OPEN_CLAIMS_INDEX.shard, '9999', 1000)).some((i) => i.pk.endsWith(k.pipeline));

describe('Class: LedgerStore, every write recognising its own effect after a lost answer', () => {
  it.each<[string, ProxyFault]>([
    ['a 500', 'apply-then-500'],
    ['a cut connection', 'apply-then-reset'],
  ])('claims once, and says claimed, when the answer to the claim is lost to %s', async (_case, fault) => {
    // Prepare
    const k = key();
    loseAnswer('SET #claim = :claim', fault);

    // Act
    const claim = await claimOne(k);

    // Assess
    expect(proxy.lostReplies()).toHaveLength(1);
    expect(claim.token).toBe('t-1');
    const got = await record(k);
    expect(got?.retries).toBe(1);
  });

  it.each([
    ['acquire', '#claim.heldSince = :now', (k: LedgerKey, c: Claim) => store.acquire(k, c, 'new', later(300), NOW)],
    ['reschedule', '#claim.dueAt = :due', (k: LedgerKey, c: Claim) => store.reschedule(k, c, 'new', later(60), later(360), 'busy')],
    ['wake', '#claim.wakeups', (k: LedgerKey, c: Claim) => store.wake(k, c, 'new', NOW, later(300))],
  ])('hands the claim over once when the answer to %s is lost', async (name, text, write) => {
    // Prepare
    const k = key();
    const claim = await claimOne(k);
    loseAnswer(text);

    // Act
    const done = await write(k, claim);

    // Assess
    expect(proxy.lostReplies()).toHaveLength(1);
    expect(done).toBe(true);
    const after = (await record(k))?.claims[0];
    expect(after?.token).toBe('new');
    expect(after?.busyCount).toBe(name === 'reschedule' ? 1 : 0);
    expect(after?.wakeups ?? 0).toBe(name === 'wake' ? 1 : 0);
  });

  it('takes a due claim once, and still knows it was only scheduled, when the answer is lost', async () => {
    // Prepare
    const k = key();
    await claimOne(k, ClaimStatus.Scheduled);
    loseAnswer('#claim.heldSince = :now');

    // Act
    const taken = await store.takeDue(k, 1, 't-1', 'new', later(300), later(1));

    // Assess
    expect(taken?.claim?.token).toBe('new');
    expect(proxy.lostReplies()).toHaveLength(1);
    expect(taken?.wasRetrying).toBe(false);
  });

  it('gives a slot back exactly once when the answer to the refund is lost', async () => {
    // Prepare
    const k = key();
    const claim = await claimOne(k);
    loseAnswer('retries = retries - :one');

    // Act
    const done = await store.finish(k, claim, { status: ClaimStatus.Abandoned, outcome: 'stage-changed', reason: 'test', now: later(5) });

    // Assess
    expect(proxy.lostReplies()).toHaveLength(1);
    expect(done).toBe(true);
    const got = await record(k);
    expect(got?.retries).toBe(0);
    expect(got?.claims[0]?.status).toBe(ClaimStatus.Abandoned);
  });

  it('never counts below zero when a record’s counter is already at zero', async () => {
    // Prepare: the slot was given back already (a counter at 0 with the claim still open, as an older ledger could leave it).
    const k = key();
    const claim = await claimOne(k);
    await aws
      .table()
      .update(TableKeys.ledger(k.pipeline, k.stage, k.executionId), { expression: 'SET retries = :zero', values: { ':zero': 0 } });

    // Act
    const done = await store.finish(k, claim, { status: ClaimStatus.Abandoned, outcome: 'stage-changed', reason: 'test', now: later(5) });

    // Assess
    expect(done).toBe(true);
    expect((await record(k))?.retries).toBe(0);
  });

  it('releases once when the answer to the release is lost', async () => {
    // Prepare
    const k = key();
    const claim = await claimOne(k, ClaimStatus.Scheduled);
    loseAnswer('REMOVE #claim');

    // Act
    const done = await store.release(k, claim);

    // Assess
    expect(done).toBe(true);
    const got = await record(k);
    expect(got?.retries).toBe(0);
    expect(got?.claims).toEqual([]);
  });

  it('says a skip was recorded first when the answer to its write is lost', async () => {
    // Prepare
    const k = key();
    loseAnswer('SET #skip = :skip');

    // Act
    const skip = { occurrence: 1, reason: 'never-retry-rule', detail: 'detail', now: NOW };
    const first = await store.recordSkip(k, skip);
    const again = await store.recordSkip(k, skip);

    // Assess
    expect(proxy.lostReplies()).toHaveLength(1);
    expect(first.first).toBe(true);
    expect(again.first).toBe(false);
  });

  it.each([
    ['a live scheduled claim', ClaimStatus.Scheduled, 0, false],
    ['a live retrying claim', ClaimStatus.Retrying, 0, false],
    ['an open claim whose holder died (its lease is over)', ClaimStatus.Retrying, 600, true],
  ] as const)('writes a skip beside %s only when its holder died', async (_case, status, after, written) => {
    // Prepare
    const k = key();
    const claim = await claimOne(k, status);

    // Act
    const skip = await store.recordSkip(k, { occurrence: 1, reason: 'no-retry-rule-match', detail: 'detail', now: later(after) });

    // Assess
    expect(skip.first).toBe(written);
    expect(skip.claim?.token).toBe(claim.token);
    expect(skip.snapshot.retries).toBe(1);
    expect((await record(k))?.skips).toHaveLength(written ? 1 : 0);
  });

  it('takes back a skip by its own id, and only that skip', async () => {
    // Prepare
    const k = key();
    const written = await store.recordSkip(k, { occurrence: 1, reason: 'never-retry-rule', detail: 'detail', now: NOW });

    // Act
    await store.withdrawSkip(k, 1, 'another-write');
    const kept = (await record(k))?.skips.length;
    await store.withdrawSkip(k, 1, written.id);

    // Assess
    expect(kept).toBe(1);
    expect((await record(k))?.skips).toEqual([]);
  });

  it.each<[string, ProxyFault]>([
    ['a 500', 'apply-then-500'],
    ['a cut connection', 'apply-then-reset'],
  ])('takes a skip back once, without an error, when the answer to its removal is lost to %s', async (_case, fault) => {
    // Prepare
    const k = key();
    const written = await store.recordSkip(k, { occurrence: 1, reason: 'never-retry-rule', detail: 'detail', now: NOW });
    loseAnswer('REMOVE #skip', fault);

    // Act
    await store.withdrawSkip(k, 1, written.id);

    // Assess: the SDK resent it, and the resend found the skip gone.
    expect(proxy.lostReplies()).toHaveLength(1);
    expect((await record(k))?.skips).toEqual([]);
  });

  it('writes no skip beside a claim that ended', async () => {
    // Prepare
    const k = key();
    const claim = await claimOne(k);
    await store.finish(k, claim, { status: ClaimStatus.Retried, outcome: Outcome.Retried, reason: 'test', now: later(5) });

    // Act
    const skip = await store.recordSkip(k, { occurrence: 1, reason: 'never-retry-rule', detail: 'detail', now: later(600) });

    // Assess
    expect(skip.first).toBe(false);
    expect(skip.claim?.status).toBe(ClaimStatus.Retried);
    expect((await record(k))?.skips).toEqual([]);
  });

  it('records a recovery once, and says so, when the answer is lost', async () => {
    // Prepare
    const k = key();
    const claim = await claimOne(k);
    await store.finish(k, claim, { status: ClaimStatus.Retried, outcome: Outcome.Retried, reason: 'test', now: later(5) });
    loseAnswer('SET recoveredAt = :now');

    // Act
    const first = await store.recordRecovery(k, later(600));
    const again = await store.recordRecovery(k, later(601));

    // Assess
    expect(first).toBe(1);
    expect(again).toBeUndefined();
  });
});

describe('Class: LedgerStore, the OpenClaims index', () => {
  it('holds a record while it has an open claim, at the earliest deadline among them, and lets go when the last ends', async () => {
    // Prepare
    const k = key();
    const first = await claimOne(k, ClaimStatus.Retrying, 1);
    const second = await claimOne(k, ClaimStatus.Retrying, 2);

    // Act
    const whileOpen = await store.overdue(later(121), 100);
    await store.finish(k, first, { status: ClaimStatus.Retried, outcome: Outcome.Retried, reason: 'test', now: later(5) });
    const afterFirst = await indexed(k);
    await store.finish(k, second, { status: ClaimStatus.Retried, outcome: Outcome.Retried, reason: 'test', now: later(6) });

    // Assess: the record was due at the first claim's deadline (121 s), not the second's (122 s).
    expect(whileOpen.filter((r) => r.key.pipeline === k.pipeline).map((r) => r.open.length)).toEqual([2]);
    expect(afterFirst).toBe(true);
    expect(await indexed(k)).toBe(false);
  });

  it('finds nothing overdue before the deadline, with one Query and no reads', async () => {
    // Prepare
    const k = key();
    await claimOne(k);
    const before = new Map(aws.dynamo.requests);

    // Act
    const overdue = await store.overdue(later(60), 100);

    // Assess
    expect(overdue.filter((r) => r.key.pipeline === k.pipeline)).toEqual([]);
    expect((aws.dynamo.requests.get('Query') ?? 0) - (before.get('Query') ?? 0)).toBe(1);
    expect((aws.dynamo.requests.get('GetItem') ?? 0) - (before.get('GetItem') ?? 0)).toBe(0);
  });
});
