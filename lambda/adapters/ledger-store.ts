import { type Location, scopedPipeline, TableKeys } from '../../contract';
import { TransientFaultError } from '../domain/errors';
import { type Claim, type ClaimResult, ClaimStatus, type LedgerKey, newClaim } from '../domain/ledger';
import { FALLBACK_OCCURRENCE_BASE } from '../domain/types';
import type { ClaimFinish, LedgerPort, LedgerView, NewClaim, RescheduleWhy, SkipRecord } from '../ports';
import { type DynamoTable, dynamoFault, type Item, type Update } from './dynamo-table';
import { claimAttribute, claimOf, skipAttribute } from './items';

/** The item of one stage execution; a member account's pipeline has its account and region in the key. */
export function ledgerKey(key: LedgerKey, home?: Location) {
  return TableKeys.ledger(scopedPipeline(key, key.pipeline, home), key.stage, key.executionId);
}

/**
 * The attempt ledger, as the retry function uses it: one item per (pipeline, stage, pipeline
 * execution), holding the retry counter and one claim map per failure occurrence. Every change
 * is a single-item conditional update, so duplicate and concurrent deliveries are settled by
 * DynamoDB, with no transactions.
 */
export class LedgerStore implements LedgerPort {
  public constructor(
    private readonly table: DynamoTable,
    private readonly retentionSeconds: number = 30 * 86_400,
    /** The central stack's account and region: its pipelines keep bare names. @default none (single account) */
    private readonly home?: Location,
  ) {}

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
      if (existing) return { kind: 'exists', claim: claimOf(existing) };
      const retries = Number(item?.retries ?? 0);
      if (retries >= c.maxRetries) return { kind: 'exhausted', retries };
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
          'updatedAt = :now, expiresAt = :ttl, firstFailureAt = if_not_exists(firstFailureAt, :failedAt)',
        condition:
          expected === 0
            ? 'attribute_not_exists(#claim) AND (attribute_not_exists(retries) OR retries = :expected)'
            : 'attribute_not_exists(#claim) AND retries = :expected',
        names: { '#claim': claimAttribute(c.occurrence) },
        values: {
          ':claim': claim,
          ':expected': expected,
          ':next': expected + 1,
          ...this.recordFields(key, c.now),
          ':failedAt': c.failedAt.toISOString(),
        },
        returnOnConditionFailure: true,
      },
      'claim a retry',
    );
    return written.done ? { kind: 'claimed', claim } : { kind: 'conflict', item: written.item };
  }

  public async view(key: LedgerKey, occurrence: number): Promise<LedgerView> {
    const item = await this.read(key);
    const raw = item?.[claimAttribute(occurrence)];
    return {
      snapshot: {
        retries: Number(item?.retries ?? 0),
        firstFailureAt: typeof item?.firstFailureAt === 'string' ? new Date(item.firstFailureAt) : undefined,
      },
      claim: raw ? claimOf(raw) : undefined,
    };
  }

  /**
   * Marks a stage execution that succeeded after at least one of our retries as recovered, once.
   * Returns the number of retries it took, or undefined when there was nothing of ours to recover.
   */
  public async recordRecovery(key: LedgerKey, now: Date): Promise<number | undefined> {
    const written = await this.write(
      key,
      {
        expression: 'SET recoveredAt = :now, recoveredAfter = retries, updatedAt = :now',
        condition: 'attribute_exists(pk) AND retries > :zero AND attribute_not_exists(recoveredAt)',
        values: { ':now': now.toISOString(), ':zero': 0 },
        returnItem: true,
      },
      'record a recovery',
    );
    return written.done ? Number(written.item.recoveredAfter) : undefined;
  }

  public async get(key: LedgerKey, occurrence: number): Promise<Claim | undefined> {
    const raw = (await this.read(key))?.[claimAttribute(occurrence)];
    return raw ? claimOf(raw) : undefined;
  }

  /** Hands the claim to a new holder, provided nobody else did so since `claim` was read. */
  public acquire(key: LedgerKey, claim: Claim, token: string, leaseUntil: Date): Promise<boolean> {
    return this.onClaim(key, claim, 'SET #claim.#status = :retrying, #claim.leaseUntil = :lease, #claim.#token = :token', {
      ':retrying': ClaimStatus.Retrying,
      ':lease': leaseUntil.toISOString(),
      ':token': token,
    });
  }

  public async takeDue(
    key: LedgerKey,
    occurrence: number,
    expectedToken: string,
    token: string,
    leaseUntil: Date,
    now: Date,
  ): Promise<LedgerView | undefined> {
    const written = await this.write(
      key,
      {
        expression: 'SET #claim.#status = :retrying, #claim.leaseUntil = :lease, #claim.#token = :token',
        names: { '#claim': claimAttribute(occurrence), '#status': 'status', '#token': 'token' },
        values: {
          ':retrying': ClaimStatus.Retrying,
          ':scheduled': ClaimStatus.Scheduled,
          ':lease': leaseUntil.toISOString(),
          ':token': token,
          ':expected': expectedToken,
          ':now': now.toISOString(),
        },
        condition:
          '#claim.#token = :expected AND ((#claim.#status = :scheduled AND #claim.dueAt <= :now) OR ' +
          '(#claim.#status = :retrying AND #claim.leaseUntil <= :now))',
        returnItem: true,
        returnOld: true,
      },
      'take a claim that came due',
    );
    if (!written.done) return undefined;
    const raw = written.item[claimAttribute(occurrence)];
    return {
      snapshot: {
        retries: Number(written.item.retries ?? 0),
        firstFailureAt: typeof written.item.firstFailureAt === 'string' ? new Date(written.item.firstFailureAt) : undefined,
      },
      claim: raw ? claimOf(raw) : undefined,
    };
  }

  /** Puts a claim back to waiting; the caller re-sends the delay message. */
  public reschedule(key: LedgerKey, claim: Claim, token: string, dueAt: Date, leaseUntil: Date, why: RescheduleWhy): Promise<boolean> {
    // An unclear answer counts like a busy one towards giving up, and marks the claim uncertain.
    const count = why === 'throttled' ? 'throttleCount' : 'busyCount';
    return this.onClaim(
      key,
      claim,
      'SET #claim.#status = :scheduled, #claim.dueAt = :due, #claim.leaseUntil = :lease, #claim.#token = :token, ' +
        `#claim.${count} = if_not_exists(#claim.${count}, :zero) + :one${why === 'uncertain' ? ', #claim.uncertain = :true' : ''}`,
      {
        ':scheduled': ClaimStatus.Scheduled,
        ':due': dueAt.toISOString(),
        ':lease': leaseUntil.toISOString(),
        ':token': token,
        ':one': 1,
        ':zero': 0,
        ...(why === 'uncertain' ? { ':true': true } : {}),
      },
    );
  }

  /** Undoes a move whose next step failed: `retrying` with the lease run out, so the next delivery takes over. */
  public makeRecoverable(key: LedgerKey, claim: Claim, now: Date): Promise<boolean> {
    return this.onClaim(key, claim, 'SET #claim.#status = :retrying, #claim.leaseUntil = :now', {
      ':retrying': ClaimStatus.Retrying,
      ':now': now.toISOString(),
    });
  }

  /**
   * Records the outcome. When no retry was made after all (abandoned, failed), the slot is given
   * back so that maxRetries counts RetryStageExecution calls that took effect.
   */
  public finish(key: LedgerKey, claim: Claim, f: ClaimFinish): Promise<boolean> {
    const refund = f.status !== ClaimStatus.Retried && !f.keepSlot;
    return this.onClaim(
      key,
      claim,
      'SET #claim.#status = :status, #claim.outcome = :outcome, #claim.reason = :reason, #claim.finishedAt = :now, ' +
        `updatedAt = :now${refund ? ', retries = retries - :one' : ''}`,
      {
        ':status': f.status,
        ':outcome': f.outcome,
        ':reason': f.reason,
        ':now': f.now.toISOString(),
        ...(refund ? { ':one': 1 } : {}),
      },
    );
  }

  /** Undoes a claim whose delay message could not be sent, so a redelivery can claim again. */
  public release(key: LedgerKey, claim: Claim): Promise<boolean> {
    return this.onClaim(key, claim, 'REMOVE #claim SET retries = retries - :one', { ':one': 1 });
  }

  public async recordSkip(
    key: LedgerKey,
    occurrence: number,
    reason: string,
    detail: string,
    now: Date,
    failedAt?: Date,
  ): Promise<SkipRecord> {
    const written = await this.write(
      key,
      {
        expression:
          'SET #skip = :skip, pipeline = :pipeline, stage = :stage, executionId = :execution, updatedAt = :now, ' +
          'expiresAt = :ttl, retries = if_not_exists(retries, :zero), firstFailureAt = if_not_exists(firstFailureAt, :failedAt)',
        names: { '#skip': skipAttribute(occurrence), '#reason': 'reason' },
        values: {
          ':skip': { occurrence, reason, detail, at: now.toISOString() },
          ':reason': reason,
          ...this.recordFields(key, now),
          ':zero': 0,
          ':failedAt': (failedAt ?? now).toISOString(),
        },
        // The same decision delivered again changes nothing, and says so.
        condition: 'attribute_not_exists(#skip) OR #skip.#reason <> :reason',
        returnItem: true,
      },
      'update the ledger',
    );
    const raw = written.done ? written.item[claimAttribute(occurrence)] : undefined;
    return { first: written.done, claim: raw ? claimOf(raw) : undefined };
  }

  /** An update of one claim, only by its current holder (the token it was read with). */
  private async onClaim(key: LedgerKey, claim: Claim, expression: string, values: Record<string, unknown>): Promise<boolean> {
    const written = await this.write(
      key,
      {
        expression,
        names: { '#claim': claimAttribute(claim.occurrence), '#status': 'status', '#token': 'token' },
        values: { ...values, ':expectedToken': claim.token },
        condition: '#claim.#token = :expectedToken',
      },
      'update the ledger',
    );
    return written.done;
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

  private async write(key: LedgerKey, update: Update, what: string) {
    try {
      return await this.table.update(ledgerKey(key, this.home), update);
    } catch (error) {
      throw dynamoFault(what, error);
    }
  }

  private async read(key: LedgerKey): Promise<Item | undefined> {
    try {
      return await this.table.get(ledgerKey(key, this.home));
    } catch (error) {
      throw dynamoFault('read the ledger', error);
    }
  }
}
