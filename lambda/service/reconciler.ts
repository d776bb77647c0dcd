import { type Claim, ClaimStatus } from '../domain/ledger';
import { Outcome, SkipReason } from '../domain/reasons';
import type { StageFailure } from '../domain/types';
import type { OpenRecord } from '../ports';
import { ClaimHandler } from './claim-handler';
import { Delivery } from './delivery';
import type { Reporter } from './reporter';
import type { ServiceDeps } from './service-settings';

/** What one reconciler run found and did. */
export interface ReconcileResult {
  /** Records the OpenClaims index had past their deadline. */
  readonly records: number;
  /** Claims found past their deadline: their holder died, or their delay message was lost. */
  readonly stuck: number;
  /** Of those, woken: a delay message with a fresh token sent, due now. */
  readonly woken: number;
  /** Of those, given up on after too many wake-ups (operators are told). */
  readonly gaveUp: number;
  /** Records taken out of the index: they had no open claim any more. */
  readonly cleaned: number;
}

/**
 * The way forward for every claim that nothing else moves on. A scheduled rule runs it every few
 * minutes; it asks the OpenClaims index (which holds only records with an open claim, so an idle
 * account pays one empty Query) for records whose earliest open-claim deadline has passed — a
 * claim's deadline is its lease: for a `retrying` claim the holder's, for a `scheduled` one its
 * due time and a grace. Each such claim is woken: a delay message with a fresh token, due now, so
 * the delay queue's due path takes it over and the live state decides (retry, confirm an earlier
 * retry, or abandon). A claim woken too often without moving is given up on, its slot kept (a
 * holder may have called), and operators are told.
 */
export class Reconciler {
  public constructor(
    private readonly deps: ServiceDeps,
    private readonly reporter: Reporter,
  ) {}

  public async run(): Promise<ReconcileResult> {
    const { ledger, clock, settings, logger } = this.deps;
    const now = clock();
    const records = await ledger.overdue(now, settings.reconcileBatch);
    let stuck = 0;
    let woken = 0;
    let gaveUp = 0;
    let cleaned = 0;
    for (const record of records) {
      const overdue = record.open.filter((c) => Date.parse(c.leaseUntil) <= now.getTime());
      if (overdue.length === 0) {
        // No open claim (a crash came between a claim's end and the index update), or its place
        // in the index lags behind a later deadline: put it right.
        await ledger.dropFromIndex(record);
        cleaned += 1;
        continue;
      }
      for (const claim of overdue) {
        stuck += 1;
        const failure = failureOf(record, claim);
        if (!failure) {
          logger.log('error', 'an overdue claim names no account and region: it cannot be woken', { key: record.key, token: claim.token });
          continue;
        }
        const delivery = new Delivery(this.deps, this.reporter, failure, now);
        delivery.stuck();
        if ((claim.wakeups ?? 0) >= settings.maxWakeups) {
          await this.giveUp(delivery, claim);
          gaveUp += 1;
        } else if (await this.wake(delivery, claim)) {
          woken += 1;
        }
      }
    }
    const result = { records: records.length, stuck, woken, gaveUp, cleaned };
    logger.log(stuck > 0 ? 'warn' : 'info', 'reconciled', { ...result });
    return result;
  }

  /**
   * Hands an overdue claim to a message due now, which the delay queue's due path takes over; false
   * when the claim moved on since it was read.
   */
  public async wake(delivery: Delivery, claim: Claim): Promise<boolean> {
    const { now } = delivery;
    const token = this.deps.newToken();
    const leaseUntil = new Date(now.getTime() + this.deps.settings.scheduledGraceSeconds * 1000);
    if (!(await delivery.wake(claim, token, leaseUntil))) return false;
    await delivery.sendClaim(now, token, 0);
    const why = `past its deadline (${claim.status}, lease until ${claim.leaseUntil}): woken by the reconciler`;
    delivery.decision(Outcome.Deferred, why, { attempt: claim.attempt, level: 'warn' });
    return true;
  }

  /** Too many wake-ups without moving: the claim ends, keeping its slot if a holder may have called, and operators hear of it. */
  private async giveUp(delivery: Delivery, claim: Claim): Promise<void> {
    const maybeCalled = claim.status === ClaimStatus.Retrying || claim.uncertain;
    const detail = `woken ${claim.wakeups ?? 0} times by the reconciler without moving on`;
    await new ClaimHandler(this.deps, delivery).abandon(claim, SkipReason.ClaimStuck, detail, { keepSlot: maybeCalled });
  }
}

/** The failure a claim stands for, from its record (which names the account and region) and what the claim keeps of its event. */
function failureOf(record: OpenRecord, claim: Claim): StageFailure | undefined {
  const { key } = record;
  if (!key.account || !key.region) return undefined;
  const failedAt = claim.failedAt ?? claim.claimedAt;
  return {
    eventId: claim.eventId ?? `reconciler-${claim.token}`,
    account: key.account,
    region: key.region,
    pipeline: key.pipeline,
    stage: key.stage,
    executionId: key.executionId,
    occurrence: claim.occurrence,
    pipelineVersion: claim.pipelineVersion,
    failedAt: new Date(failedAt),
  };
}
