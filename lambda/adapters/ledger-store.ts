import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { LedgerSnapshot } from '../domain/decision';
import { TransientFaultError } from '../domain/errors';
import { type Claim, type ClaimResult, ClaimStatus, type LedgerKey } from '../domain/ledger';
import type { RetryMode } from '../domain/types';
import { Keys, queryPartition } from './table-keys';

export interface NewClaim {
  readonly occurrence: number;
  readonly status: typeof ClaimStatus.Scheduled | typeof ClaimStatus.Retrying;
  readonly retryMode: RetryMode;
  readonly dueAt: Date;
  readonly leaseUntil: Date;
  readonly token: string;
  readonly fingerprint: string;
  readonly maxRetries: number;
  readonly failedAt: Date;
  readonly now: Date;
  /** The counter as last read, if known: the claim's first write then needs no guess. */
  readonly expectedRetries?: number;
}

export interface ClaimFinish {
  readonly status: typeof ClaimStatus.Retried | typeof ClaimStatus.Abandoned | typeof ClaimStatus.Failed;
  readonly outcome: string;
  readonly reason: string;
  readonly now: Date;
  /**
   * Keep the retry slot even though this holder made no retry: an earlier holder may have made
   * it before it crashed, and counting it once too often is safer than retrying once too often.
   */
  readonly keepSlot?: boolean;
}

/** One stage execution's ledger record, as the CLI and tests read it. */
export interface LedgerRecord extends LedgerKey {
  readonly retries: number;
  readonly firstFailureAt: string | undefined;
  readonly updatedAt: string | undefined;
  readonly claims: readonly Claim[];
  readonly skips: readonly { occurrence: number; reason: string; detail: string; at: string }[];
  /** When the stage succeeded after our retries, and after how many. */
  readonly recoveredAt: string | undefined;
  readonly recoveredAfter: number | undefined;
}

export interface SkipRecord {
  /** False when this very reason was already recorded for the occurrence (a duplicate event). */
  readonly first: boolean;
  /** The occurrence's claim, if an earlier delivery claimed it (and may have crashed holding it). */
  readonly claim: Claim | undefined;
}

/** The ledger's view of one stage execution, read before deciding. */
export interface LedgerView {
  readonly snapshot: LedgerSnapshot;
  /** This failure occurrence's claim, if it has one: the event is then a duplicate or a takeover. */
  readonly claim: Claim | undefined;
}

export interface LedgerPort {
  view(key: LedgerKey, occurrence: number): Promise<LedgerView>;
  recordRecovery(key: LedgerKey, now: Date): Promise<number | undefined>;
  claim(key: LedgerKey, claim: NewClaim): Promise<ClaimResult>;
  get(key: LedgerKey, occurrence: number): Promise<Claim | undefined>;
  acquire(key: LedgerKey, claim: Claim, token: string, leaseUntil: Date): Promise<boolean>;
  reschedule(key: LedgerKey, claim: Claim, token: string, dueAt: Date, leaseUntil: Date): Promise<boolean>;
  finish(key: LedgerKey, claim: Claim, finish: ClaimFinish): Promise<boolean>;
  release(key: LedgerKey, claim: Claim): Promise<boolean>;
  /** Records why an occurrence is not retried. */
  recordSkip(key: LedgerKey, occurrence: number, reason: string, detail: string, now: Date, failedAt?: Date): Promise<SkipRecord>;
}

const claimAttribute = (occurrence: number) => `occ_${occurrence}`;

/**
 * The attempt ledger: one item per (pipeline, stage, pipeline execution), holding the retry
 * counter and one claim map per failure occurrence. Every change is a single-item conditional
 * update, so duplicate and concurrent deliveries are settled by DynamoDB, with no transactions.
 */
export class LedgerStore implements LedgerPort {
  public constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBClient = new DynamoDBClient({}),
    private readonly retentionSeconds: number = 30 * 86_400,
  ) {}

  /**
   * Claims a retry slot for one failure occurrence. Succeeds only when this occurrence has no
   * claim yet and fewer than maxRetries slots are taken: the one write that makes
   * "at most one retry per occurrence, at most maxRetries in all" hold under concurrency.
   */
  public async claim(key: LedgerKey, c: NewClaim): Promise<ClaimResult> {
    // Guess the counter from the event (attempt n of an execution usually follows n - 1 retries);
    // a wrong guess costs one read and one more write, never a wrong count.
    let expected = c.expectedRetries ?? Math.max(0, c.occurrence - 1);
    for (let round = 0; round < 5; round++) {
      let item: Record<string, unknown> | undefined;
      if (expected < c.maxRetries) {
        const attempt = await this.tryClaim(key, c, expected);
        if (attempt.kind === 'claimed') return { kind: 'claimed', claim: attempt.claim };
        item = attempt.item;
      }
      // Lost a race, guessed wrong, or out of slots: the item says which. DynamoDB returns it with
      // the failed write; only when it does not (the item did not exist) is it read.
      item ??= await this.read(key);
      const existing = item?.[claimAttribute(c.occurrence)];
      if (existing) return { kind: 'exists', claim: toClaim(existing) };
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
  ): Promise<{ kind: 'claimed'; claim: Claim } | { kind: 'conflict'; item: Record<string, unknown> | undefined }> {
    const claim: Claim = {
      occurrence: c.occurrence,
      attempt: expected + 1,
      status: c.status,
      retryMode: c.retryMode,
      claimedAt: c.now.toISOString(),
      dueAt: c.dueAt.toISOString(),
      leaseUntil: c.leaseUntil.toISOString(),
      token: c.token,
      fingerprint: c.fingerprint,
      busyCount: 0,
    };
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall(Keys.ledger(key)),
          UpdateExpression:
            'SET #claim = :claim, retries = :next, pipeline = :pipeline, stage = :stage, executionId = :execution, ' +
            'updatedAt = :now, expiresAt = :ttl, firstFailureAt = if_not_exists(firstFailureAt, :failedAt)',
          ConditionExpression:
            expected === 0
              ? 'attribute_not_exists(#claim) AND (attribute_not_exists(retries) OR retries = :expected)'
              : 'attribute_not_exists(#claim) AND retries = :expected',
          ExpressionAttributeNames: { '#claim': claimAttribute(c.occurrence) },
          ExpressionAttributeValues: marshall({
            ':claim': claim,
            ':expected': expected,
            ':next': expected + 1,
            ':pipeline': key.pipeline,
            ':stage': key.stage,
            ':execution': key.executionId,
            ':now': c.now.toISOString(),
            ':ttl': this.expiry(c.now),
            ':failedAt': c.failedAt.toISOString(),
          }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'claimed', claim };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'conflict', item: itemOf(error) };
      throw fault('claim a retry', error);
    }
  }

  public async view(key: LedgerKey, occurrence: number): Promise<LedgerView> {
    const item = await this.read(key);
    const raw = item?.[claimAttribute(occurrence)];
    return {
      snapshot: {
        retries: Number(item?.retries ?? 0),
        firstFailureAt: typeof item?.firstFailureAt === 'string' ? new Date(item.firstFailureAt) : undefined,
      },
      claim: raw ? toClaim(raw) : undefined,
    };
  }

  /**
   * Marks a stage execution that succeeded after at least one of our retries as recovered, once.
   * Returns the number of retries it took, or undefined when there was nothing of ours to recover.
   */
  public async recordRecovery(key: LedgerKey, now: Date): Promise<number | undefined> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall(Keys.ledger(key)),
          UpdateExpression: 'SET recoveredAt = :now, recoveredAfter = retries, updatedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND retries > :zero AND attribute_not_exists(recoveredAt)',
          ExpressionAttributeValues: marshall({ ':now': now.toISOString(), ':zero': 0 }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Number(unmarshall(out.Attributes ?? {}).recoveredAfter);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw fault('record a recovery', error);
    }
  }

  public async get(key: LedgerKey, occurrence: number): Promise<Claim | undefined> {
    const raw = (await this.read(key))?.[claimAttribute(occurrence)];
    return raw ? toClaim(raw) : undefined;
  }

  public async getRecord(key: LedgerKey): Promise<LedgerRecord | undefined> {
    const item = await this.read(key);
    return item ? toRecord(item) : undefined;
  }

  /** Every stage-execution record of a pipeline, newest first. */
  public async listRecords(pipeline: string): Promise<LedgerRecord[]> {
    const items = await queryPartition(this.client, this.tableName, `LEDGER#${pipeline}`);
    const records = items.map(toRecord);
    return records.sort((a, b) => String(b.updatedAt).localeCompare(String(a.updatedAt)));
  }

  /**
   * Every stage-execution record changed since `since`, across pipelines. A filtered Scan: the
   * ledger is small (TTL keeps it to the retention window) and this serves the operator's
   * `status`, not the retry path.
   */
  public async recentRecords(since: Date): Promise<LedgerRecord[]> {
    const records: LedgerRecord[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'begins_with(pk, :ledger) AND updatedAt >= :since',
          ExpressionAttributeValues: marshall({ ':ledger': 'LEDGER#', ':since': since.toISOString() }),
          ExclusiveStartKey: startKey,
        }),
      );
      records.push(...(page.Items ?? []).map((i) => toRecord(unmarshall(i))));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return records;
  }

  /** Hands the claim to a new holder, provided nobody else did so since `claim` was read. */
  public async acquire(key: LedgerKey, claim: Claim, token: string, leaseUntil: Date): Promise<boolean> {
    return this.conditional(key, claim, 'SET #claim.#status = :retrying, #claim.leaseUntil = :lease, #claim.#token = :token', {
      ':retrying': ClaimStatus.Retrying,
      ':lease': leaseUntil.toISOString(),
      ':token': token,
    });
  }

  /** Puts a claim back to waiting (the service was busy); the caller re-sends the delay message. */
  public async reschedule(key: LedgerKey, claim: Claim, token: string, dueAt: Date, leaseUntil: Date): Promise<boolean> {
    return this.conditional(
      key,
      claim,
      'SET #claim.#status = :scheduled, #claim.dueAt = :due, #claim.leaseUntil = :lease, #claim.#token = :token, ' +
        '#claim.busyCount = #claim.busyCount + :one',
      {
        ':scheduled': ClaimStatus.Scheduled,
        ':due': dueAt.toISOString(),
        ':lease': leaseUntil.toISOString(),
        ':token': token,
        ':one': 1,
      },
    );
  }

  /**
   * Records the outcome. When no retry was made after all (abandoned, failed), the slot is given
   * back so that maxRetries counts RetryStageExecution calls that took effect.
   */
  public async finish(key: LedgerKey, claim: Claim, f: ClaimFinish): Promise<boolean> {
    const refund = f.status !== ClaimStatus.Retried && !f.keepSlot;
    return this.conditional(
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
  public async release(key: LedgerKey, claim: Claim): Promise<boolean> {
    return this.conditional(key, claim, 'REMOVE #claim SET retries = retries - :one', { ':one': 1 });
  }

  public async recordSkip(
    key: LedgerKey,
    occurrence: number,
    reason: string,
    detail: string,
    now: Date,
    failedAt?: Date,
  ): Promise<SkipRecord> {
    const item = await this.tryUpdate(
      key,
      'SET #skip = :skip, pipeline = :pipeline, stage = :stage, executionId = :execution, updatedAt = :now, ' +
        'expiresAt = :ttl, retries = if_not_exists(retries, :zero), firstFailureAt = if_not_exists(firstFailureAt, :failedAt)',
      { '#skip': `skip_${occurrence}`, '#reason': 'reason' },
      {
        ':skip': { occurrence, reason, detail, at: now.toISOString() },
        ':reason': reason,
        ':pipeline': key.pipeline,
        ':stage': key.stage,
        ':execution': key.executionId,
        ':now': now.toISOString(),
        ':ttl': this.expiry(now),
        ':zero': 0,
        ':failedAt': (failedAt ?? now).toISOString(),
      },
      // The same decision delivered again changes nothing, and says so.
      'attribute_not_exists(#skip) OR #skip.#reason <> :reason',
    );
    const raw = item?.[claimAttribute(occurrence)];
    return { first: item !== undefined, claim: raw ? toClaim(raw) : undefined };
  }

  private async conditional(key: LedgerKey, claim: Claim, expression: string, values: Record<string, unknown>): Promise<boolean> {
    const done = await this.tryUpdate(
      key,
      expression,
      { '#claim': claimAttribute(claim.occurrence), '#status': 'status', '#token': 'token' },
      { ...values, ':expectedToken': claim.token },
      '#claim.#token = :expectedToken',
      false,
    );
    return done !== undefined;
  }

  /**
   * An update whose condition may fail: undefined when it did, a fault for anything else;
   * otherwise the item after the update when `returnItem` (an empty object when not).
   */
  private async tryUpdate(
    key: LedgerKey,
    expression: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
    condition: string,
    returnItem = true,
  ): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.update(key, expression, names, values, condition, returnItem);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  private async update(
    key: LedgerKey,
    expression: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
    condition?: string,
    returnItem = false,
  ): Promise<Record<string, unknown>> {
    const usedNames = Object.fromEntries(Object.entries(names).filter(([n]) => `${expression} ${condition ?? ''}`.includes(n)));
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall(Keys.ledger(key)),
          UpdateExpression: expression,
          ConditionExpression: condition,
          ExpressionAttributeNames: usedNames,
          ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
          // Only the callers that use the item ask DynamoDB to send it.
          ...(returnItem ? { ReturnValues: 'ALL_NEW' as const } : {}),
        }),
      );
      return unmarshall(out.Attributes ?? {});
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw error;
      throw fault('update the ledger', error);
    }
  }

  private async read(key: LedgerKey): Promise<Record<string, unknown> | undefined> {
    try {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: marshall(Keys.ledger(key)), ConsistentRead: true }),
      );
      return out.Item ? unmarshall(out.Item) : undefined;
    } catch (error) {
      throw fault('read the ledger', error);
    }
  }

  private expiry(now: Date): number {
    return Math.floor(now.getTime() / 1000) + this.retentionSeconds;
  }
}

function fault(what: string, error: unknown): TransientFaultError {
  return new TransientFaultError(`could not ${what} in DynamoDB`, { cause: error });
}

/** The item a failed conditional write returned (ReturnValuesOnConditionCheckFailure), if any. */
export function itemOf(error: ConditionalCheckFailedException): Record<string, unknown> | undefined {
  return error.Item ? unmarshall(error.Item) : undefined;
}

function toClaim(raw: unknown): Claim {
  const c = raw as Record<string, unknown>;
  return {
    occurrence: Number(c.occurrence),
    attempt: Number(c.attempt),
    status: c.status as Claim['status'],
    retryMode: c.retryMode as RetryMode,
    claimedAt: String(c.claimedAt),
    dueAt: String(c.dueAt),
    leaseUntil: String(c.leaseUntil),
    token: String(c.token),
    fingerprint: String(c.fingerprint ?? ''),
    busyCount: Number(c.busyCount ?? 0),
    ...(c.outcome !== undefined ? { outcome: String(c.outcome) } : {}),
    ...(c.reason !== undefined ? { reason: String(c.reason) } : {}),
    ...(c.finishedAt !== undefined ? { finishedAt: String(c.finishedAt) } : {}),
  };
}

function toRecord(item: Record<string, unknown>): LedgerRecord {
  const claims: Claim[] = [];
  const skips: LedgerRecord['skips'][number][] = [];
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith('occ_')) claims.push(toClaim(value));
    if (name.startsWith('skip_')) skips.push(value as LedgerRecord['skips'][number]);
  }
  return {
    pipeline: String(item.pipeline),
    stage: String(item.stage),
    executionId: String(item.executionId),
    retries: Number(item.retries ?? 0),
    firstFailureAt: item.firstFailureAt as string | undefined,
    updatedAt: item.updatedAt as string | undefined,
    claims: claims.sort((a, b) => a.occurrence - b.occurrence),
    skips: skips.sort((a, b) => a.occurrence - b.occurrence),
    recoveredAt: item.recoveredAt as string | undefined,
    recoveredAfter: item.recoveredAfter === undefined ? undefined : Number(item.recoveredAfter),
  };
}
