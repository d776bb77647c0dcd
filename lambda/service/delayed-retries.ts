import { InvalidInputError } from '../../policy/errors';
import { MAX_COOLDOWN_SECONDS, SPREAD_SHARE } from '../../policy/policy';
import { TransientFaultError } from '../domain/errors';
import type { DelayedRetryMessage } from '../domain/events';
import { ClaimStatus, isOpen, isStale, TERMINAL_STATUSES } from '../domain/ledger';
import { Outcome, SkipReason } from '../domain/reasons';
import { stageRefOf } from '../domain/refs';
import { CLOCK_SKEW_SECONDS, type ReportedFailure } from '../domain/types';
import { ClaimHandler } from './claim-handler';
import { Delivery, type FailureOptions } from './delivery';
import type { HeldClaims } from './held-claims';
import type { Reporter } from './reporter';
import type { Result, ServiceDeps } from './service-settings';

/** The latest a message we sent can be due: the longest cooldown, spread by jitter, and an hour's grace. */
const MAX_DUE_AHEAD_SECONDS = MAX_COOLDOWN_SECONDS * (1 + SPREAD_SHARE) + 3600;

/**
 * The delay-queue path: a message not yet due goes round the queue again while the ledger holds
 * what it waits for; a failure that waited is handled again as a failure (`redeliver`); a claim
 * that came due is taken and retried.
 */
export class DelayedRetries {
  public constructor(
    private readonly deps: ServiceDeps,
    private readonly reporter: Reporter,
    private readonly held: HeldClaims,
    /** Handles a failure that waited in the queue, as the failure path does. */
    private readonly redeliver: (reported: ReportedFailure, options: FailureOptions) => Promise<Result>,
  ) {}

  /** A delay-queue message: chain if not yet due, else handle the waiting failure or claim. */
  public async handleDelayed(message: DelayedRetryMessage): Promise<Result> {
    const { failure } = message;
    const now = this.deps.clock();
    // Only our role may send here, but a body we did not write gets no retry and no re-chaining.
    if (message.dueAt.getTime() > now.getTime() + MAX_DUE_AHEAD_SECONDS * 1000) {
      throw new InvalidInputError(`delay-queue message is due ${message.dueAt.toISOString()}, later than any policy can ask`);
    }
    if (failure.failedAt.getTime() > now.getTime() + CLOCK_SKEW_SECONDS * 1000) {
      throw new InvalidInputError(`delay-queue message.failure.failedAt ${failure.failedAt.toISOString()} lies in the future`);
    }
    const remaining = Math.ceil((message.dueAt.getTime() - now.getTime()) / 1000);
    if (remaining > 0) {
      const chained = await this.chain(message, remaining, now);
      if (chained) return chained;
    }
    if (message.kind === 'event') {
      const { deferrals, nativeWaitOver, fingerprint, staleChecks, slotWaits } = message;
      return this.redeliver(failure, { deferrals, nativeWaitOver, fingerprint, staleChecks, slotWaits });
    }
    return this.handleDueClaim(new Delivery(this.deps, this.reporter, message.failure, now), message.token);
  }

  /**
   * A message that is not due yet goes round the queue again (a wait longer than SQS's 900 s is
   * a chain of hops), but only while the ledger holds what it waits for: a claim message for its
   * claim with its token, a failure waiting for slots while claims are still open. A claim message
   * the ledger knows nothing of is not ours to keep: it is left for the DLQ, with the reason.
   * Returns undefined when the message should be handled now instead.
   */
  private async chain(message: DelayedRetryMessage, remaining: number, now: Date): Promise<Result | undefined> {
    let checked: Result | 'chain' | undefined;
    try {
      checked = await this.checkBeforeChaining(message, now);
    } catch (error) {
      // The ledger cannot be read now (throttled, a fault): the message keeps going round rather
      // than wear out its receives on the way to the DLQ; the next hop looks again.
      if (!(error instanceof TransientFaultError)) throw error;
      checked = 'chain';
    }
    if (checked !== 'chain') return checked;
    await this.deps.delays.send(message, remaining);
    return this.reporter.decision(message.failure, Outcome.Waiting, `due at ${message.dueAt.toISOString()}, ${remaining}s left`);
  }

  /** What the ledger says of a message that is not due yet: chain it, handle it now (undefined), or drop it (a result). */
  private async checkBeforeChaining(message: DelayedRetryMessage, now: Date): Promise<Result | 'chain' | undefined> {
    const { failure } = message;
    if (message.kind === 'event') {
      if (message.slotWaits !== undefined) {
        const { open } = await this.deps.ledger.view(stageRefOf(failure), failure.occurrence ?? 0);
        // The claims it waited for have ended: the failure's turn is now.
        if (open.length === 0) return undefined;
      }
    } else {
      const d = new Delivery(this.deps, this.reporter, message.failure, now);
      const claim = await d.getClaim();
      if (!claim) {
        throw new InvalidInputError(
          `delay-queue message for a claim the ledger does not hold (no claim for ${failure.pipeline}/${failure.stage} ` +
            `execution ${failure.executionId} occurrence ${message.failure.occurrence}): not chained, left for the DLQ`,
        );
      }
      if (!isOpen(claim) || (message.token !== undefined && claim.token !== message.token)) {
        return d.duplicate(claim, `the claim moved on (${claim.status}) since this message was sent: not chained`);
      }
    }
    return 'chain';
  }

  /** A claimed retry's time has come: take the claim, re-check, re-evaluate the policy, retry. */
  private async handleDueClaim(d: Delivery, messageToken: string | undefined): Promise<Result> {
    const { now } = d;
    const claims = new ClaimHandler(this.deps, d);
    // The message knows the claim's token: take it in one write that returns the record.
    if (messageToken) {
      const token = this.deps.newToken();
      const leaseUntil = claims.lease(now);
      const taken = await d.takeDue(messageToken, token, leaseUntil);
      if (taken?.claim) {
        const held = {
          ...taken.claim,
          token,
          status: ClaimStatus.Retrying,
          leaseUntil: leaseUntil.toISOString(),
          heldSince: now.toISOString(),
        };
        // Taken from a holder whose lease ran out, it may have called; when the answer to our write
        // was lost that cannot be known, and it is treated as such.
        return this.held.retryHeld(d, held, taken.snapshot, taken.wasRetrying ?? true);
      }
    }
    // No token (an older message), or the claim moved on since it was sent: read it and see.
    const { snapshot, claim } = await d.view();
    if (!claim) {
      return d.decision(Outcome.Skipped, `${SkipReason.NoClaim}: no claim in the ledger for this message`, {
        level: 'warn',
        code: SkipReason.NoClaim,
      });
    }
    if (TERMINAL_STATUSES.includes(claim.status)) return d.duplicate(claim, `claim is already ${claim.status}`);
    if (claim.status === ClaimStatus.Scheduled && Date.parse(claim.dueAt) > now.getTime()) {
      // The claim was rescheduled after this message was sent; a newer message carries it.
      return d.duplicate(claim, `rescheduled to ${claim.dueAt}`);
    }
    if (claim.status === ClaimStatus.Retrying && !isStale(claim, now)) return claims.deferCheck(claim);

    const held = await claims.acquire(claim);
    if (!held) return d.duplicate(claim, 'another instance took the claim');
    return this.held.retryHeld(d, held, snapshot, claim.status === ClaimStatus.Retrying);
  }
}
