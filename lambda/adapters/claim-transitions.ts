import { OPEN_CLAIMS_INDEX } from '../../contract';
import { type Claim, ClaimStatus, type LedgerKey } from '../domain/ledger';
import type { ClaimFinish, LedgerView, RescheduleWhy } from '../ports';
import { claimAttribute, claimOf } from './items';
import { CLAIM_NAMES, type LedgerTable } from './ledger-table';
import { viewOf, withClaim } from './ledger-views';
import type { OpenClaimsIndex } from './open-claims-index';

/**
 * The moves of a claim once it exists: take it over, take it when due, put it back to waiting,
 * wake it, finish it, release it. Every move is a write conditional on the claim's current token
 * that hands the claim to a new one, so only its current holder can move it; a resend whose
 * condition fails but finds the new token in place is this very write, its first answer lost.
 */
export class ClaimTransitions {
  public constructor(
    private readonly records: LedgerTable,
    private readonly index: OpenClaimsIndex,
    private readonly newWriteId: () => string,
  ) {}

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
    const written = await this.records.write(
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
    await this.index.keepTrue(key, after);
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
    const alone = this.index.aloneAt(key, claim.occurrence);
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
    const now = await this.records.read(key);
    if (claimOf(now?.[claimAttribute(claim.occurrence)] ?? {}).token !== claim.token) return false;
    return attempt(refund && Number(now?.retries ?? 0) > 0, undefined);
  }

  /** Undoes a claim whose delay message could not be sent, so a redelivery can claim again. */
  public async release(key: LedgerKey, claim: Claim): Promise<boolean> {
    const written = await this.records.write(
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
    if (written.done) await this.index.keepTrue(key, written.item);
    return written.done;
  }

  /**
   * An update of one claim, only by its current holder (the token it was read with), which hands
   * the claim to `w.token`. A resend whose condition fails but which finds that token in place is
   * this very write, its first answer lost: done.
   */
  private async onClaim(key: LedgerKey, claim: Claim, w: ClaimWrite): Promise<boolean> {
    const attribute = claimAttribute(claim.occurrence);
    const leave = w.leaveIndexAtRev !== undefined;
    const written = await this.records.write(
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
    if (written.done) await this.index.keepTrue(key, written.item);
    return written.done;
  }
}

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
