import { randomUUID } from 'node:crypto';
import { TransientFaultError } from '../domain/errors';
import {
  type Claim,
  type ClaimResult,
  ClaimStatus,
  type FlakyTest,
  failureRecordOf,
  isOpen,
  type LedgerKey,
  MAX_RECORDED_TESTS,
  newClaim,
} from '../domain/ledger';
import { recordedTest } from '../domain/test-identities';
import { FALLBACK_OCCURRENCE_BASE } from '../domain/types';
import type { ClaimFinish, LedgerPort, LedgerView, NewClaim, OpenRecord, RescheduleWhy, SkipEntry, SkipRecord } from '../ports';
import { ClaimTransitions } from './claim-transitions';
import type { DynamoTable, Item } from './dynamo-table';
import { claimAttribute, claimOf, claimsOf, skipAttribute } from './items';
import { LedgerTable } from './ledger-table';
import { viewOf } from './ledger-views';
import { OpenClaimsIndex } from './open-claims-index';
import type { TableNames } from './table-names';

export interface LedgerStoreOptions {
  /** How this deployment names a pipeline's records (a member's pipeline has its account and region in the key). */
  readonly names: TableNames;
  /** How long a record is kept after its last write (its TTL). @default 30 days */
  readonly retentionSeconds?: number;
  /** Write ids. @default random UUIDs */
  readonly newWriteId?: () => string;
}

/**
 * The attempt ledger, as the retry function uses it: one item per (pipeline, stage, pipeline
 * execution), holding the retry counter and one claim map per failure occurrence. Every change
 * is a single-item conditional update, so duplicate and concurrent deliveries are settled by
 * DynamoDB, with no transactions.
 *
 * Every write says which write it is: a claim's writes are conditional on its current token and
 * set a new one, a skip or a recovery carries a write id. When DynamoDB took a write but its
 * answer was lost, the SDK resends it, the resend fails its condition, and the item shows our own
 * write: that counts as done, never as a race lost to someone else. So a counter changes once per
 * write, whatever the network does.
 *
 * A record with an open claim is in the OpenClaims index, sorted by the earliest deadline among
 * its open claims (a claim's lease: for a scheduled claim, its due time and a grace): that is how
 * the reconciler finds a claim nobody moved on.
 *
 * The parts: the record's reads and its one conditional write (LedgerTable), its place in the
 * index (OpenClaimsIndex), and the moves of a claim once it exists (ClaimTransitions); here, the
 * writes that make a claim, a skip or a recovery.
 */
export class LedgerStore implements LedgerPort {
  private readonly records: LedgerTable;
  private readonly index: OpenClaimsIndex;
  private readonly moves: ClaimTransitions;
  private readonly newWriteId: () => string;

  public constructor(table: DynamoTable, options: LedgerStoreOptions) {
    this.records = new LedgerTable(table, options.names, options.retentionSeconds ?? 30 * 86_400);
    this.index = new OpenClaimsIndex(this.records);
    this.newWriteId = options.newWriteId ?? randomUUID;
    this.moves = new ClaimTransitions(this.records, this.index, this.newWriteId);
  }

  /**
   * Claims a retry slot for one failure occurrence. Succeeds only when this occurrence has no
   * claim yet and fewer than maxRetries slots are taken: the one write that makes
   * "at most one retry per occurrence, at most maxRetries in all" hold under concurrency.
   */
  public async claim(key: LedgerKey, c: NewClaim): Promise<ClaimResult> {
    // Guess the counter from the event (attempt n of an execution usually follows n - 1 retries);
    // a wrong guess costs one read and one more write, never a wrong count.
    let expected = c.expectedRetries ?? (c.occurrence >= FALLBACK_OCCURRENCE_BASE ? 0 : Math.max(0, c.occurrence - 1));
    for (let round = 0; round < 5; round++) {
      let item: Item | undefined;
      if (expected < c.maxRetries) {
        const attempt = await this.tryClaim(key, c, expected);
        if (attempt.kind === 'claimed') return attempt;
        item = attempt.item;
      }
      // Lost a race, guessed wrong, or out of slots: the item says which. DynamoDB returns it with
      // the failed write; only when it does not (the item did not exist) is it read.
      item ??= await this.records.read(key);
      const existing = item?.[claimAttribute(c.occurrence)];
      if (existing) {
        const claim = claimOf(existing);
        if (claim.token !== c.token) return { kind: 'exists', claim };
        // Our own claim: the write took effect and its answer was lost; the resend met it.
        if (item) await this.index.keepTrue(key, item);
        return { kind: 'claimed', claim };
      }
      const retries = Number(item?.retries ?? 0);
      if (retries >= c.maxRetries) return { kind: 'exhausted', retries, open: claimsOf(item).filter(isOpen) };
      expected = retries;
    }
    throw new TransientFaultError('could not claim a retry: the ledger kept changing under contention');
  }

  /**
   * One conditional write: this occurrence has no claim yet and the counter is exactly
   * `expected` (so the attempt number we store is right), which is below maxRetries.
   */
  private async tryClaim(
    key: LedgerKey,
    c: NewClaim,
    expected: number,
  ): Promise<{ kind: 'claimed'; claim: Claim } | { kind: 'conflict'; item: Item | undefined }> {
    const claim = newClaim(c, expected + 1);
    const written = await this.records.write(
      key,
      {
        expression:
          'SET #claim = :claim, retries = :next, pipeline = :pipeline, stage = :stage, executionId = :execution, ' +
          'updatedAt = :now, expiresAt = :ttl, firstFailureAt = if_not_exists(firstFailureAt, :failedAt), ' +
          `${this.index.fields()}${key.account && key.region ? ', #account = :account, #region = :region' : ''}`,
        condition:
          expected === 0
            ? 'attribute_not_exists(#claim) AND (attribute_not_exists(retries) OR retries = :expected)'
            : 'attribute_not_exists(#claim) AND retries = :expected',
        names: { '#claim': claimAttribute(c.occurrence), '#account': 'account', '#region': 'region', '#rev': 'rev' },
        values: {
          ':claim': claim,
          ':expected': expected,
          ':next': expected + 1,
          ...this.records.recordFields(key, c.now),
          ':failedAt': c.failedAt.toISOString(),
          ...this.index.values(claim.leaseUntil),
          ...(key.account && key.region ? { ':account': key.account, ':region': key.region } : {}),
        },
        returnItem: true,
        returnOnConditionFailure: true,
      },
      'claim a retry',
    );
    if (!written.done) return { kind: 'conflict', item: written.item };
    await this.index.keepTrue(key, written.item);
    return { kind: 'claimed', claim };
  }

  public async view(key: LedgerKey, occurrence: number): Promise<LedgerView> {
    return viewOf(await this.records.read(key), occurrence);
  }

  /**
   * Marks a stage execution that succeeded after at least one of our retries as recovered, once,
   * with the flaky tests: those our cured retry's occurrence failed with (its claim's
   * failedTests), read from the record first, as they failed and then passed. Returns the number
   * of retries it took, or undefined when there was nothing of ours to recover (one read, no write).
   */
  public async recordRecovery(key: LedgerKey, now: Date): Promise<number | undefined> {
    const id = this.newWriteId();
    // Most stages that succeed were never retried by us: one consistent read tells, and nothing is written.
    const item = await this.records.read(key);
    if (!item || !(Number(item.retries) > 0) || item.recoveredAt !== undefined) return undefined;
    const flaky = flakyTests(item, key.stage, now);
    const written = await this.records.write(
      key,
      {
        expression: `SET recoveredAt = :now, recoveredAfter = retries, recoveredBy = :id, updatedAt = :now${flaky.length > 0 ? ', flaky = :flaky' : ''}`,
        condition: 'attribute_exists(pk) AND retries > :zero AND attribute_not_exists(recoveredAt)',
        values: { ':now': now.toISOString(), ':zero': 0, ':id': id, ...(flaky.length > 0 ? { ':flaky': flaky } : {}) },
        returnItem: true,
        returnOnConditionFailure: true,
      },
      'record a recovery',
      (item) => item.recoveredBy === id,
    );
    return written.done ? Number(written.item.recoveredAfter) : undefined;
  }

  public async get(key: LedgerKey, occurrence: number): Promise<Claim | undefined> {
    const raw = (await this.records.read(key))?.[claimAttribute(occurrence)];
    return raw ? claimOf(raw) : undefined;
  }

  public async recordSkip(key: LedgerKey, skip: SkipEntry): Promise<SkipRecord> {
    const { occurrence, reason, detail, now, failedAt } = skip;
    const failure = failureRecordOf(skip);
    const id = this.newWriteId();
    const written = await this.records.write(
      key,
      {
        expression:
          'SET #skip = :skip, pipeline = :pipeline, stage = :stage, executionId = :execution, updatedAt = :now, ' +
          'expiresAt = :ttl, retries = if_not_exists(retries, :zero), firstFailureAt = if_not_exists(firstFailureAt, :failedAt)',
        names: {
          '#skip': skipAttribute(occurrence),
          '#reason': 'reason',
          '#claim': claimAttribute(occurrence),
          '#status': 'status',
          '#lease': 'leaseUntil',
        },
        values: {
          ':skip': { occurrence, reason, detail, at: now.toISOString(), id, ...failure },
          ':reason': reason,
          ...this.records.recordFields(key, now),
          ':zero': 0,
          ':failedAt': (failedAt ?? now).toISOString(),
          ':scheduled': ClaimStatus.Scheduled,
          ':retrying': ClaimStatus.Retrying,
        },
        // The same decision delivered again changes nothing, and says so. A claim of the
        // occurrence stands unless its holder died (an open claim whose lease is over; ISO times
        // compare as text): a delivery that decides otherwise does not write beside it.
        condition:
          '(attribute_not_exists(#skip) OR #skip.#reason <> :reason) AND ' +
          '(attribute_not_exists(#claim) OR (#claim.#status IN (:scheduled, :retrying) AND #claim.#lease <= :now))',
        returnItem: true,
        returnOnConditionFailure: true,
      },
      'update the ledger',
      (item) => (item[skipAttribute(occurrence)] as { id?: unknown } | undefined)?.id === id,
    );
    // The item as it is now, whether this write made the change or an earlier delivery did.
    const item = written.item ?? (await this.records.read(key));
    const view = viewOf(item, occurrence);
    return { first: written.done, claim: view.claim, snapshot: view.snapshot, id };
  }

  public async withdrawSkip(key: LedgerKey, occurrence: number, id: string): Promise<void> {
    // A resend after a lost answer finds the skip gone and its condition false: done all the same.
    await this.records.write(
      key,
      {
        expression: 'REMOVE #skip',
        names: { '#skip': skipAttribute(occurrence), '#id': 'id' },
        values: { ':id': id },
        condition: '#skip.#id = :id',
      },
      'update the ledger',
    );
  }

  // ---- the moves of an existing claim -------------------------------------------------------------

  /** Hands the claim to a new holder, provided nobody else did so since `claim` was read. */
  public acquire(key: LedgerKey, claim: Claim, token: string, leaseUntil: Date, now: Date): Promise<boolean> {
    return this.moves.acquire(key, claim, token, leaseUntil, now);
  }

  public takeDue(
    key: LedgerKey,
    occurrence: number,
    expectedToken: string,
    token: string,
    leaseUntil: Date,
    now: Date,
  ): Promise<(LedgerView & { readonly wasRetrying: boolean | undefined }) | undefined> {
    return this.moves.takeDue(key, occurrence, expectedToken, token, leaseUntil, now);
  }

  /** Puts a claim back to waiting; the caller re-sends the delay message. */
  public reschedule(key: LedgerKey, claim: Claim, token: string, dueAt: Date, leaseUntil: Date, why: RescheduleWhy): Promise<boolean> {
    return this.moves.reschedule(key, claim, token, dueAt, leaseUntil, why);
  }

  public makeRecoverable(key: LedgerKey, claim: Claim, now: Date): Promise<boolean> {
    return this.moves.makeRecoverable(key, claim, now);
  }

  public wake(key: LedgerKey, claim: Claim, token: string, now: Date, leaseUntil: Date): Promise<boolean> {
    return this.moves.wake(key, claim, token, now, leaseUntil);
  }

  public finish(key: LedgerKey, claim: Claim, f: ClaimFinish): Promise<boolean> {
    return this.moves.finish(key, claim, f);
  }

  public release(key: LedgerKey, claim: Claim): Promise<boolean> {
    return this.moves.release(key, claim);
  }

  // ---- the reconciler's queries of the OpenClaims index --------------------------------------------

  public overdue(cutoff: Date, limit: number): Promise<OpenRecord[]> {
    return this.index.overdue(cutoff, limit);
  }

  /** A record the index holds that has no open claim any more (a crash between a claim's end and the index update): out of the index. */
  public async dropFromIndex(record: OpenRecord): Promise<void> {
    await this.index.keepTrue(record.key, record.item);
  }
}

/** The tests the occurrence our last retry cured had failed with: they passed on the retry. */
function flakyTests(item: Item | undefined, stage: string, now: Date): FlakyTest[] {
  const cured = claimsOf(item)
    .filter((c) => c.status === ClaimStatus.Retried)
    .sort((a, b) => b.occurrence - a.occurrence)[0];
  return (cured?.failedTests ?? []).slice(0, MAX_RECORDED_TESTS).map((t) => ({ ...recordedTest(t), stage, at: now.toISOString() }));
}
