// Over 300 lines: every conditional write of the ledger, and how each recognises its own write
// after a lost answer, in one place; a split would scatter the one protocol they share.
import { randomUUID } from 'node:crypto';
import { LEDGER_PREFIX, OPEN_CLAIMS_INDEX, parseScopedPipeline, type TableKey } from '../../contract';
import { TransientFaultError } from '../domain/errors';
import { type Claim, type ClaimResult, ClaimStatus, isOpen, type LedgerKey, newClaim } from '../domain/ledger';
import { FALLBACK_OCCURRENCE_BASE } from '../domain/types';
import type { ClaimFinish, LedgerPort, LedgerView, NewClaim, OpenRecord, RescheduleWhy, SkipEntry, SkipRecord } from '../ports';
import { type DynamoTable, dynamoFault, type Item, type Update } from './dynamo-table';
import { claimAttribute, claimOf, claimsOf, skipAttribute } from './items';
import type { TableNames } from './table-names';

export interface LedgerStoreOptions {
  /** How this deployment names a pipeline's records (a member's pipeline has its account and region in the key). */
  readonly names: TableNames;
  /** How long a record is kept after its last write (its TTL). @default 30 days */
  readonly retentionSeconds?: number;
  /** Write ids. @default random UUIDs */
  readonly newWriteId?: () => string;
}

/** The names every claim write uses. */
const CLAIM_NAMES = { '#status': 'status', '#token': 'token' } as const;

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
 */
export class LedgerStore implements LedgerPort {
  /** Records this instance wrote last: their revision and open claims, so that a claim's end can leave the index in the same write. */
  private readonly seen = new Map<string, { readonly rev: number; readonly open: readonly number[] }>();

  private readonly names: TableNames;
  private readonly retentionSeconds: number;
  private readonly newWriteId: () => string;

  public constructor(
    private readonly table: DynamoTable,
    options: LedgerStoreOptions,
  ) {
    this.names = options.names;
    this.retentionSeconds = options.retentionSeconds ?? 30 * 86_400;
    this.newWriteId = options.newWriteId ?? randomUUID;
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
      item ??= await this.read(key);
      const existing = item?.[claimAttribute(c.occurrence)];
      if (existing) {
        const claim = claimOf(existing);
        if (claim.token !== c.token) return { kind: 'exists', claim };
        // Our own claim: the write took effect and its answer was lost; the resend met it.
        if (item) await this.keepIndexTrue(key, item);
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
    const written = await this.write(
      key,
      {
        expression:
          'SET #claim = :claim, retries = :next, pipeline = :pipeline, stage = :stage, executionId = :execution, ' +
          'updatedAt = :now, expiresAt = :ttl, firstFailureAt = if_not_exists(firstFailureAt, :failedAt), ' +
          `${this.openFields()}${key.account && key.region ? ', #account = :account, #region = :region' : ''}`,
        condition:
          expected === 0
            ? 'attribute_not_exists(#claim) AND (attribute_not_exists(retries) OR retries = :expected)'
            : 'attribute_not_exists(#claim) AND retries = :expected',
        names: { '#claim': claimAttribute(c.occurrence), '#account': 'account', '#region': 'region', '#rev': 'rev' },
        values: {
          ':claim': claim,
          ':expected': expected,
          ':next': expected + 1,
          ...this.recordFields(key, c.now),
          ':failedAt': c.failedAt.toISOString(),
          ...this.openValues(claim.leaseUntil),
          ...(key.account && key.region ? { ':account': key.account, ':region': key.region } : {}),
        },
        returnItem: true,
        returnOnConditionFailure: true,
      },
      'claim a retry',
    );
    if (!written.done) return { kind: 'conflict', item: written.item };
    await this.keepIndexTrue(key, written.item);
    return { kind: 'claimed', claim };
  }

  public async view(key: LedgerKey, occurrence: number): Promise<LedgerView> {
    return viewOf(await this.read(key), occurrence);
  }

  /**
   * Marks a stage execution that succeeded after at least one of our retries as recovered, once.
   * Returns the number of retries it took, or undefined when there was nothing of ours to recover.
   */
  public async recordRecovery(key: LedgerKey, now: Date): Promise<number | undefined> {
    const id = this.newWriteId();
    const written = await this.write(
      key,
      {
        expression: 'SET recoveredAt = :now, recoveredAfter = retries, recoveredBy = :id, updatedAt = :now',
        condition: 'attribute_exists(pk) AND retries > :zero AND attribute_not_exists(recoveredAt)',
        values: { ':now': now.toISOString(), ':zero': 0, ':id': id },
        returnItem: true,
        returnOnConditionFailure: true,
      },
      'record a recovery',
      (item) => item.recoveredBy === id,
    );
    return written.done ? Number(written.item.recoveredAfter) : undefined;
  }

  public async get(key: LedgerKey, occurrence: number): Promise<Claim | undefined> {
    const raw = (await this.read(key))?.[claimAttribute(occurrence)];
    return raw ? claimOf(raw) : undefined;
  }

  /** Hands the claim to a new holder, provided nobody else did so since `claim` was read. */
  public async acquire(key: LedgerKey, claim: Claim, token: string, leaseUntil: Date, now: Date): Promise<boolean> {
    const lease = leaseUntil.toISOString();
    return this.onClaim(key, claim, {
      token,
      set: 'SET #claim.#status = :retrying, #claim.leaseUntil = :lease, #claim.heldSince = :now',
      values: { ':retrying': ClaimStatus.Retrying, ':lease': lease, ':now': now.toISOString() },
      deadline: lease,
    });
  }

  public async takeDue(
    key: LedgerKey,
    occurrence: number,
    expectedToken: string,
    token: string,
    leaseUntil: Date,
    now: Date,
  ): Promise<(LedgerView & { readonly wasRetrying: boolean | undefined }) | undefined> {
    const lease = leaseUntil.toISOString();
    const written = await this.write(
      key,
      {
        expression:
          // takenFrom keeps what the claim was before (every SET reads the item as it was), so that
          // a resend after a lost answer still knows whether it was taken from a holder.
          'SET #claim.takenFrom = #claim.#status, #claim.#status = :retrying, #claim.leaseUntil = :lease, #claim.#token = :token, ' +
          `#claim.heldSince = :now, ${OPEN_CLAIMS_INDEX.sortKey} = :openUntil, #rev = if_not_exists(#rev, :zero) + :one`,
        names: { '#claim': claimAttribute(occurrence), ...CLAIM_NAMES, '#rev': 'rev' },
        values: {
          ':retrying': ClaimStatus.Retrying,
          ':scheduled': ClaimStatus.Scheduled,
          ':lease': lease,
          ':openUntil': lease,
          ':token': token,
          ':expected': expectedToken,
          ':now': now.toISOString(),
          ':zero': 0,
          ':one': 1,
        },
        condition:
          '#claim.#token = :expected AND ((#claim.#status = :scheduled AND #claim.dueAt <= :now) OR ' +
          '(#claim.#status = :retrying AND #claim.leaseUntil <= :now))',
        returnItem: true,
        returnOld: true,
        returnOnConditionFailure: true,
      },
      'take a claim that came due',
      (item) => claimOf(item[claimAttribute(occurrence)] ?? {}).token === token,
    );
    if (!written.done) return undefined;
    const before = viewOf(written.item, occurrence);
    // With the answer lost, the item read back is the one after our write, which says what it was taken from.
    const raw = written.item[claimAttribute(occurrence)] as { takenFrom?: unknown } | undefined;
    const from = written.own ? raw?.takenFrom : before.claim?.status;
    const wasRetrying = from === undefined ? undefined : from === ClaimStatus.Retrying;
    const after = written.own
      ? written.item
      : {
          ...withClaim(written.item, occurrence, { status: ClaimStatus.Retrying, leaseUntil: lease, token }),
          [OPEN_CLAIMS_INDEX.sortKey]: lease,
          rev: Number(written.item.rev ?? 0) + 1,
        };
    await this.keepIndexTrue(key, after);
    return { ...before, wasRetrying };
  }

  /** Puts a claim back to waiting; the caller re-sends the delay message. */
  public reschedule(key: LedgerKey, claim: Claim, token: string, dueAt: Date, leaseUntil: Date, why: RescheduleWhy): Promise<boolean> {
    // An unclear answer counts like a busy one towards giving up, and marks the claim uncertain
    // with the earliest time the unclear call can have started.
    const count = why === 'throttled' ? 'throttleCount' : 'busyCount';
    const lease = leaseUntil.toISOString();
    // A claim that may already have called (an unclear answer, or taken from a holder whose lease
    // ran out) stays uncertain whatever sends it back to waiting.
    const uncertain = why === 'uncertain' || claim.uncertain;
    return this.onClaim(key, claim, {
      token,
      set:
        'SET #claim.#status = :scheduled, #claim.dueAt = :due, #claim.leaseUntil = :lease, ' +
        `#claim.${count} = if_not_exists(#claim.${count}, :zero) + :one` +
        (uncertain ? ', #claim.uncertain = :true, #claim.mayHaveCalledSince = if_not_exists(#claim.mayHaveCalledSince, :since)' : ''),
      values: {
        ':scheduled': ClaimStatus.Scheduled,
        ':due': dueAt.toISOString(),
        ':lease': lease,
        ':one': 1,
        ':zero': 0,
        ...(uncertain ? { ':true': true, ':since': claim.mayHaveCalledSince ?? claim.heldSince ?? claim.claimedAt } : {}),
      },
      deadline: lease,
    });
  }

  /** Undoes a move whose next step failed: `retrying` with the lease run out, so the next delivery (or the reconciler) takes over. */
  public makeRecoverable(key: LedgerKey, claim: Claim, now: Date): Promise<boolean> {
    const at = now.toISOString();
    return this.onClaim(key, claim, {
      token: claim.token,
      set: 'SET #claim.#status = :retrying, #claim.leaseUntil = :now',
      values: { ':retrying': ClaimStatus.Retrying, ':now': at },
      deadline: at,
    });
  }

  /**
   * The reconciler found the claim past its deadline: it becomes a scheduled claim due now, held
   * by the message the reconciler sends, with a new deadline (so the next run passes it by unless
   * it is still stuck then); the wake-up is counted. A claim taken from a holder that may have
   * called is marked uncertain: the live state (and the action runs) then decide.
   */
  public wake(key: LedgerKey, claim: Claim, token: string, now: Date, leaseUntil: Date): Promise<boolean> {
    const lease = leaseUntil.toISOString();
    const mayHaveCalled = claim.status === ClaimStatus.Retrying;
    return this.onClaim(key, claim, {
      token,
      set:
        'SET #claim.#status = :scheduled, #claim.dueAt = :now, #claim.leaseUntil = :lease, ' +
        '#claim.wakeups = if_not_exists(#claim.wakeups, :zero) + :one' +
        (mayHaveCalled ? ', #claim.uncertain = :true, #claim.mayHaveCalledSince = if_not_exists(#claim.mayHaveCalledSince, :since)' : ''),
      values: {
        ':scheduled': ClaimStatus.Scheduled,
        ':now': now.toISOString(),
        ':lease': lease,
        ':zero': 0,
        ':one': 1,
        ...(mayHaveCalled ? { ':true': true, ':since': claim.mayHaveCalledSince ?? claim.heldSince ?? claim.claimedAt } : {}),
      },
      deadline: lease,
    });
  }

  /**
   * Records the outcome. When no retry was made after all (abandoned, failed), the slot is given
   * back, once, so that maxRetries counts RetryStageExecution calls that took effect. When this
   * instance's last write of the record showed no other open claim, the same write takes the
   * record out of the OpenClaims index (on that revision: if another claim came meanwhile, it is
   * written again without).
   */
  public async finish(key: LedgerKey, claim: Claim, f: ClaimFinish): Promise<boolean> {
    const refund = f.status !== ClaimStatus.Retried && !f.keepSlot;
    const seen = this.seen.get(recordId(key));
    const alone = seen?.open.every((o) => o === claim.occurrence) ? seen.rev : undefined;
    const values = { ':status': f.status, ':outcome': f.outcome, ':reason': f.reason, ':now': f.now.toISOString() };
    const attempt = (giveBack: boolean, leaveIndexAtRev: number | undefined) =>
      this.onClaim(key, claim, {
        token: this.newWriteId(),
        set:
          'SET #claim.#status = :status, #claim.outcome = :outcome, #claim.reason = :reason, #claim.finishedAt = :now, updatedAt = :now' +
          (giveBack ? ', retries = retries - :one' : ''),
        values: giveBack ? { ...values, ':one': 1 } : values,
        // A counter at zero (a record from before writes had ids) is not counted further down.
        ...(giveBack ? { condition: 'retries > :zeroRetries' } : {}),
        ...(leaveIndexAtRev !== undefined ? { leaveIndexAtRev } : {}),
      });
    if (await attempt(refund, alone)) return true;
    if (!refund && alone === undefined) return false;
    // Refused by a counter at zero, by a revision that moved on, or by a race lost: the item says which.
    const now = await this.read(key);
    if (claimOf(now?.[claimAttribute(claim.occurrence)] ?? {}).token !== claim.token) return false;
    return attempt(refund && Number(now?.retries ?? 0) > 0, undefined);
  }

  /** Undoes a claim whose delay message could not be sent, so a redelivery can claim again. */
  public async release(key: LedgerKey, claim: Claim): Promise<boolean> {
    const written = await this.write(
      key,
      {
        expression: 'REMOVE #claim SET retries = retries - :one, #rev = if_not_exists(#rev, :zero) + :one',
        names: { '#claim': claimAttribute(claim.occurrence), ...CLAIM_NAMES, '#rev': 'rev' },
        values: { ':one': 1, ':zero': 0, ':expectedToken': claim.token },
        condition: '#claim.#token = :expectedToken AND retries > :zero',
        returnItem: true,
        returnOnConditionFailure: true,
      },
      'update the ledger',
      // Removed already: by this very write, whose answer was lost (nobody else removes a claim).
      (item) => item[claimAttribute(claim.occurrence)] === undefined,
    );
    if (written.done) await this.keepIndexTrue(key, written.item);
    return written.done;
  }

  public async recordSkip(key: LedgerKey, skip: SkipEntry): Promise<SkipRecord> {
    const { occurrence, reason, detail, now, failedAt } = skip;
    const id = this.newWriteId();
    const written = await this.write(
      key,
      {
        expression:
          'SET #skip = :skip, pipeline = :pipeline, stage = :stage, executionId = :execution, updatedAt = :now, ' +
          'expiresAt = :ttl, retries = if_not_exists(retries, :zero), firstFailureAt = if_not_exists(firstFailureAt, :failedAt)',
        names: { '#skip': skipAttribute(occurrence), '#reason': 'reason' },
        values: {
          ':skip': { occurrence, reason, detail, at: now.toISOString(), id },
          ':reason': reason,
          ...this.recordFields(key, now),
          ':zero': 0,
          ':failedAt': (failedAt ?? now).toISOString(),
        },
        // The same decision delivered again changes nothing, and says so.
        condition: 'attribute_not_exists(#skip) OR #skip.#reason <> :reason',
        returnItem: true,
        returnOnConditionFailure: true,
      },
      'update the ledger',
      (item) => (item[skipAttribute(occurrence)] as { id?: unknown } | undefined)?.id === id,
    );
    // The item as it is now, whether this write made the change or an earlier delivery did.
    const item = written.item ?? (await this.read(key));
    const raw = item?.[claimAttribute(occurrence)];
    return { first: written.done, claim: raw ? claimOf(raw) : undefined };
  }

  /**
   * Records whose earliest open-claim deadline is at or before `cutoff`, oldest first, at most
   * `limit`: one Query of the sparse index (which holds only records with an open claim).
   */
  public async overdue(cutoff: Date, limit: number): Promise<OpenRecord[]> {
    let keys: TableKey[];
    try {
      keys = await this.table.queryIndex(OPEN_CLAIMS_INDEX, OPEN_CLAIMS_INDEX.shard, cutoff.toISOString(), limit);
    } catch (error) {
      throw dynamoFault('query the open claims', error);
    }
    const records: OpenRecord[] = [];
    for (const k of keys) {
      const item = await this.readKey(k);
      if (item) records.push(this.openRecordOf(item));
    }
    return records;
  }

  /** A record the index holds that has no open claim any more (a crash between a claim's end and the index update): out of the index. */
  public async dropFromIndex(record: OpenRecord): Promise<void> {
    await this.keepIndexTrue(record.key, record.item);
  }

  /** The stage execution a record stands for, and its open claims. */
  private openRecordOf(item: Item): OpenRecord {
    const scoped = parseScopedPipeline(String(item.pk).slice(LEDGER_PREFIX.length));
    const account = scoped.account ?? (typeof item.account === 'string' ? item.account : undefined);
    const region = scoped.region ?? (typeof item.region === 'string' ? item.region : undefined);
    const key: LedgerKey = {
      pipeline: scoped.pipeline,
      stage: String(item.stage),
      executionId: String(item.executionId),
      ...(account ? { account } : {}),
      ...(region ? { region } : {}),
    };
    return { key, item, open: claimsOf(item).filter(isOpen), retries: Number(item.retries ?? 0) };
  }

  /**
   * An update of one claim, only by its current holder (the token it was read with), which hands
   * the claim to `w.token`. A resend whose condition fails but which finds that token in place is
   * this very write, its first answer lost: done.
   */
  private async onClaim(key: LedgerKey, claim: Claim, w: ClaimWrite): Promise<boolean> {
    const attribute = claimAttribute(claim.occurrence);
    const leave = w.leaveIndexAtRev !== undefined;
    const written = await this.write(
      key,
      {
        expression:
          `${w.set}, #claim.#token = :newToken, #rev = if_not_exists(#rev, :zeroRev) + :oneRev` +
          (w.deadline ? `, ${OPEN_CLAIMS_INDEX.sortKey} = :openUntil` : '') +
          (leave ? ` REMOVE ${OPEN_CLAIMS_INDEX.partitionKey}, ${OPEN_CLAIMS_INDEX.sortKey}` : ''),
        names: { '#claim': attribute, ...CLAIM_NAMES, '#rev': 'rev' },
        values: {
          ...w.values,
          ':expectedToken': claim.token,
          ':newToken': w.token,
          ':zeroRev': 0,
          ':oneRev': 1,
          ...(w.deadline ? { ':openUntil': w.deadline } : {}),
          ...(w.condition ? { ':zeroRetries': 0 } : {}),
          ...(leave ? { ':seenRev': w.leaveIndexAtRev } : {}),
        },
        condition: `#claim.#token = :expectedToken${w.condition ? ` AND ${w.condition}` : ''}${leave ? ' AND #rev = :seenRev' : ''}`,
        returnItem: true,
        returnOnConditionFailure: true,
      },
      'update the ledger',
      // The claim already holds the token this write gives it: it is this write, answered before.
      w.token === claim.token ? undefined : (item) => claimOf(item[attribute] ?? {}).token === w.token,
    );
    if (written.done) await this.keepIndexTrue(key, written.item);
    return written.done;
  }

  /**
   * Keeps the record's place in the OpenClaims index true to its claims: in it, at the earliest
   * deadline of its open claims, while it has one; out of it once it has none. Each claim write
   * already puts its own deadline there, so this writes only when another claim of the record is
   * open (or none is). Conditional on the record's revision: a record changed meanwhile has been
   * kept true by the write that changed it. A crash before this write leaves the record in the
   * index at another claim's deadline (or, when none is open, its last one): the reconciler
   * reaches it there, later than it might have, and does the same.
   */
  private async keepIndexTrue(key: LedgerKey, item: Item): Promise<void> {
    const open = claimsOf(item).filter(isOpen);
    this.remember(key, item, open);
    const earliest = open.map((c) => c.leaseUntil).sort()[0];
    const indexed = item[OPEN_CLAIMS_INDEX.sortKey];
    if (earliest === indexed && (earliest === undefined || item[OPEN_CLAIMS_INDEX.partitionKey] === OPEN_CLAIMS_INDEX.shard)) return;
    // This write moves the revision on (or not): what this instance saw of the record is no longer sure.
    this.seen.delete(recordId(key));
    const rev = Number(item.rev ?? 0);
    const update: Update =
      earliest === undefined
        ? {
            expression: `REMOVE ${OPEN_CLAIMS_INDEX.partitionKey}, ${OPEN_CLAIMS_INDEX.sortKey}`,
            names: { '#rev': 'rev' },
            values: { ':rev': rev },
            condition: item.rev === undefined ? 'attribute_not_exists(#rev)' : '#rev = :rev',
          }
        : {
            expression: `SET ${this.openFields()}`,
            names: { '#rev': 'rev' },
            values: { ...this.openValues(earliest), ':rev': rev },
            condition: item.rev === undefined ? 'attribute_not_exists(#rev)' : '#rev = :rev',
          };
    await this.write(key, update, 'update the open-claims index');
  }

  /** What this instance's last write of a record showed: its revision and its open claims' occurrences. */
  private remember(key: LedgerKey, item: Item, open: readonly Claim[]): void {
    const id = recordId(key);
    this.seen.delete(id);
    this.seen.set(id, { rev: Number(item.rev ?? 0), open: open.map((c) => c.occurrence) });
    if (this.seen.size > SEEN_RECORDS) this.seen.delete(this.seen.keys().next().value as string);
  }

  private openFields(): string {
    return `${OPEN_CLAIMS_INDEX.partitionKey} = :openShard, ${OPEN_CLAIMS_INDEX.sortKey} = :openUntil, #rev = if_not_exists(#rev, :zeroRev) + :oneRev`;
  }

  private openValues(deadline: string): Record<string, unknown> {
    return { ':openShard': OPEN_CLAIMS_INDEX.shard, ':openUntil': deadline, ':zeroRev': 0, ':oneRev': 1 };
  }

  /** The fields every write of a record keeps current. */
  private recordFields(key: LedgerKey, now: Date): Record<string, unknown> {
    return {
      ':pipeline': key.pipeline,
      ':stage': key.stage,
      ':execution': key.executionId,
      ':now': now.toISOString(),
      ':ttl': Math.floor(now.getTime() / 1000) + this.retentionSeconds,
    };
  }

  /**
   * One conditional write. `ours` recognises this write's own effect in the item a failed
   * condition saw (returned by DynamoDB, or read): then the write counts as done, `own` set.
   */
  private async write(
    key: LedgerKey,
    update: Update,
    what: string,
    ours?: (item: Item) => boolean,
  ): Promise<{ done: true; item: Item; own: boolean } | { done: false; item: Item | undefined; own: false }> {
    let written: Awaited<ReturnType<DynamoTable['update']>>;
    try {
      written = await this.table.update(this.names.ledger(key), update);
    } catch (error) {
      throw dynamoFault(what, error);
    }
    if (written.done) return { done: true, item: written.item, own: false };
    if (!ours) return { done: false, item: written.item, own: false };
    const item = written.item ?? (await this.read(key));
    if (item && ours(item)) return { done: true, item, own: true };
    return { done: false, item, own: false };
  }

  private async read(key: LedgerKey): Promise<Item | undefined> {
    return this.readKey(this.names.ledger(key));
  }

  private async readKey(key: TableKey): Promise<Item | undefined> {
    try {
      return await this.table.get(key);
    } catch (error) {
      throw dynamoFault('read the ledger', error);
    }
  }
}

/** The records an instance remembers its last write of (a few hundred bytes each). */
const SEEN_RECORDS = 1000;

/** One claim write: the token it hands the claim to, its SET clauses and values, and what else it does. */
interface ClaimWrite {
  readonly token: string;
  readonly set: string;
  readonly values: Record<string, unknown>;
  /** The claim's new lease: the record's place in the OpenClaims index. */
  readonly deadline?: string;
  /** A condition besides the token's (its `:zeroRetries` is 0). */
  readonly condition?: string;
  /** The record's revision as this instance last saw it, with no other open claim: the write takes it out of the index, on that revision. */
  readonly leaveIndexAtRev?: number;
}

const recordId = (key: LedgerKey): string => `${key.account ?? ''}/${key.region ?? ''}/${key.pipeline}#${key.stage}#${key.executionId}`;

function viewOf(item: Item | undefined, occurrence: number): LedgerView {
  const raw = item?.[claimAttribute(occurrence)];
  return {
    snapshot: {
      retries: Number(item?.retries ?? 0),
      firstFailureAt: typeof item?.firstFailureAt === 'string' ? new Date(item.firstFailureAt) : undefined,
    },
    claim: raw ? claimOf(raw) : undefined,
    open: claimsOf(item).filter((c) => isOpen(c) && c.occurrence !== occurrence),
    retriedFingerprints: claimsOf(item)
      .filter((c) => c.status === ClaimStatus.Retried && c.occurrence !== occurrence && c.fingerprint !== '')
      .map((c) => c.fingerprint),
  };
}

/** The item with one claim's fields changed, as a write that returned the old item left it. */
function withClaim(item: Item, occurrence: number, fields: Partial<Claim>): Item {
  const attribute = claimAttribute(occurrence);
  return { ...item, [attribute]: { ...(item[attribute] as Record<string, unknown>), ...fields } };
}
