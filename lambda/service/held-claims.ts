import { PolicyMode, resolvePolicy } from '../../policy/policy';
import { type Decision, decide, type LedgerSnapshot } from '../domain/decision';
import { ThrottledError } from '../domain/errors';
import { type Claim, ClaimStatus, isStale, TERMINAL_STATUSES } from '../domain/ledger';
import { Outcome, SkipReason } from '../domain/reasons';
import { failureFingerprint, type StageView, saneFailureTime } from '../domain/types';
import type { PolicyContext } from '../ports';
import { ClaimHandler } from './claim-handler';
import type { Delivery, FailureOptions } from './delivery';
import { type ProviderEvidenceGate, withRecordedClasses } from './evidence';
import type { Reconciler } from './reconciler';
import { addSeconds, type Result, type ServiceDeps } from './service-settings';

/** A delivery whose failure already has a claim, with what the delivery read. */
export interface ExistingClaim {
  readonly claim: Claim;
  readonly view: StageView | undefined;
  readonly context: PolicyContext;
  readonly snapshot: LedgerSnapshot;
}

/** The longest of the growing waits between two looks at slots held by open claims. */
const MAX_SLOT_WAIT_STEP_SECONDS = 900;

/**
 * The steps the failure path and the delay-queue path share over a Delivery: a claim met again
 * (a duplicate, or a takeover), a held claim judged by the policy as it is now and retried, and
 * the waits that send a failure back through the delay queue (a read that lags behind, slots
 * held by open claims, the stage's own retry).
 */
export class HeldClaims {
  public constructor(
    private readonly deps: ServiceDeps,
    private readonly reconciler: Reconciler,
    /** The providers' word on why actions failed, when the policy's rules ask for it (cached per build, deployment, stack). */
    private readonly classes: ProviderEvidenceGate,
  ) {}

  /** We hold a claim that came due: re-check, re-evaluate the policy as it is now, retry. */
  public async retryHeld(d: Delivery, held: Claim, snapshot: LedgerSnapshot, takeover: boolean): Promise<Result> {
    const { pipelines, policies } = this.deps;
    let lookup: Awaited<ReturnType<typeof pipelines.getStage>>;
    let context: Awaited<ReturnType<typeof policies.load>>;
    try {
      [lookup, context] = await Promise.all([pipelines.getStage(d.ref), policies.load(d.ref, d.ref.stage)]);
    } catch (error) {
      if (error instanceof ThrottledError) {
        return new ClaimHandler(this.deps, d).throttledRead(takeover ? { ...held, uncertain: true } : held, error);
      }
      throw error;
    }
    return this.judgeHeld(d, held, snapshot, takeover, lookup.kind === 'found' ? lookup.view : undefined, context);
  }

  /**
   * We hold the claim and have read the stage and the policies: a pause or observe mode set
   * meanwhile ends it; otherwise the whole policy is evaluated again and the retry made or not.
   */
  private async judgeHeld(
    d: Delivery,
    held: Claim,
    snapshot: LedgerSnapshot,
    takeover: boolean,
    view: StageView | undefined,
    context: PolicyContext,
  ): Promise<Result> {
    const { failure, now } = d;
    const claims = new ClaimHandler(this.deps, d);
    const resolved = resolvePolicy(context.layers);
    const keep = { keepSlot: takeover || held.uncertain, policy: resolved.policy };
    if (context.paused) return claims.abandon(held, SkipReason.Paused, 'paused while the retry waited', keep);
    if (resolved.policy.mode === PolicyMode.Observe) {
      return claims.abandon(held, SkipReason.ObserveOnly, 'the policy was switched to observe while the retry waited', keep);
    }
    // The whole policy again, as it is now: a lower maxRetries, a new rule or a longer cooldown
    // set during the wait applies to this retry. The wait is judged at its shortest (no jitter).
    // A class rule needs the failed actions' classes again (from the cache on a warm instance):
    // without them every action would read as unknown. Same-tests is judged on a new failure only.
    // A provider that cannot be read now leaves each action the class the claim recorded for it.
    const evidence = view
      ? withRecordedClasses(
          await this.classes.forDecision(d.ref, {
            view,
            policy: resolved.policy,
            retried: [],
            classifyAll: this.deps.settings.classifyAllFailures,
          }),
          held,
          failureFingerprint(view) === held.fingerprint,
        )
      : {};
    const decision: Decision | undefined = view
      ? decide(
          failure,
          view,
          resolved,
          {
            paused: false,
            ledger: { retries: held.attempt - 1, firstFailureAt: snapshot.firstFailureAt },
            random: () => 0,
            nativeWaitOver: true,
            match: this.deps.match,
            ...evidence,
          },
          now,
        )
      : undefined;
    return claims.retry(held, { view, policy: resolved.policy, decision, takeover });
  }

  /**
   * This failure already has a claim: a duplicate delivery, or a takeover after a crash. A claim
   * that ended is a duplicate (or a read that lags behind); a stale one is taken over and judged.
   */
  public async handleExistingClaim(d: Delivery, found: ExistingClaim): Promise<Result> {
    const { claim, view, context, snapshot } = found;
    const { reported, options, now } = d;
    const claims = new ClaimHandler(this.deps, d);
    if (TERMINAL_STATUSES.includes(claim.status)) {
      // An event without an attempt number is named by the failed actions the read shows: a read
      // that still shows the failure our retry re-ran names that retried occurrence. Read again.
      const named = reported.occurrence === undefined && claim.status === ClaimStatus.Retried && view !== undefined;
      if (named && failureFingerprint(view) === claim.fingerprint && (options.staleChecks ?? 0) < this.deps.settings.maxStaleChecks) {
        const detail = 'the live state still shows the failure this occurrence’s retry re-ran';
        return this.recheck(d, SkipReason.StateLagsBehind, detail, view);
      }
      return d.duplicate(claim, `this failure was already handled (${claim.status})`);
    }
    if (isStale(claim, now)) {
      // The holder died (or its delay message was lost): take over; the policy as it is now (a
      // pause, observe mode) and the live state say what comes of it.
      const held = await claims.acquire(claim);
      if (held) return this.judgeHeld(d, held, snapshot, claim.status === ClaimStatus.Retrying, view, context);
      return d.duplicate(claim, 'another instance took the claim');
    }
    if (claim.status === ClaimStatus.Scheduled) return claims.resend(claim);
    return claims.deferCheck(claim);
  }

  /**
   * The live state lagged behind the failure event: read it again through the delay queue, a few
   * times with growing waits. If it never shows the failure, the failure is dropped, and the drop
   * recorded with its reason (so `autoretry history` shows it).
   */
  public async recheck(d: Delivery, reason: SkipReason, detail: string, view: StageView): Promise<Result> {
    const checks = (d.options.staleChecks ?? 0) + 1;
    if (checks > this.deps.settings.maxStaleChecks) {
      const why = `${detail}: still so after ${checks - 1} more reads, the live state never showed the failure`;
      return new ClaimHandler(this.deps, d).skip(reason, why, { view });
    }
    const delay = this.deps.settings.staleRecheckSeconds * 2 ** (checks - 1);
    const dueAt = await this.sendBack(d, { staleChecks: checks }, delay);
    const why = `${reason}: ${detail}, but the read lags behind the failure event; reading it again at ${dueAt.toISOString()}`;
    return d.decision(Outcome.Deferred, why);
  }

  /**
   * Every slot of the stage execution is taken, but some by claims that have not ended: one of
   * them may give its slot back (abandoned: the stage changed, a refusal), and then this failure
   * is retried after all. It waits until the last of them is due (or its lease ends), waking any
   * whose holder died, and looks again, for up to maxSlotWaitSeconds after the failure; "retries
   * exhausted" is sent only when it is true.
   */
  public async waitForSlots(d: Delivery, open: readonly Claim[], detail: string, view: StageView | undefined): Promise<Result> {
    const { settings } = this.deps;
    const { failure, now } = d;
    const waits = (d.options.slotWaits ?? 0) + 1;
    const pending = `${open.length} earlier claim(s) of this stage execution had not ended`;
    // Every open claim ends within bounded time (its own limits, the reconciler), so the wait is
    // bounded by time, not by a count that a throttled claim's short reschedules could use up.
    if (now.getTime() - failure.failedAt.getTime() > settings.maxSlotWaitSeconds * 1000) {
      const waited = Math.round((now.getTime() - failure.failedAt.getTime()) / 1000);
      return new ClaimHandler(this.deps, d).skip(SkipReason.MaxRetries, `${detail}; ${pending} ${waited}s after the failure`, {
        view,
        notify: false,
      });
    }
    // A claim past its lease has a dead holder (or a lost message): wake it now rather than wait for the reconciler.
    for (const claim of open.filter((c) => isStale(c, now))) await this.reconciler.wake(d.forClaim(claim), claim);
    const settleAt = Math.max(...open.map((c) => Date.parse(c.status === ClaimStatus.Scheduled ? c.dueAt : c.leaseUntil)));
    // Until the last of them is due (or its lease ends), and never sooner than a wait that doubles.
    const floor = Math.min(MAX_SLOT_WAIT_STEP_SECONDS, settings.slotWaitMarginSeconds * 2 ** (waits - 1));
    const delay = Math.max(floor, Math.ceil((settleAt - now.getTime()) / 1000) + settings.slotWaitMarginSeconds);
    const dueAt = await this.sendBack(d, { slotWaits: waits }, delay);
    const why = `${SkipReason.MaxRetries} for now: ${detail}, but ${pending} and may give a slot back; looking again at ${dueAt.toISOString()}`;
    return d.decision(Outcome.Deferred, why);
  }

  /** Sends a failure back through the delay queue to be handled again in `delay` seconds, with its counters. */
  public async sendBack(
    d: Delivery,
    counters: Pick<FailureOptions, 'deferrals' | 'staleChecks' | 'slotWaits'>,
    delay: number,
  ): Promise<Date> {
    const { reported, now } = d;
    const dueAt = addSeconds(now, delay);
    const waiting = { ...reported, failedAt: saneFailureTime(reported.failedAt, now) };
    await this.deps.delays.send({ v: 1, kind: 'event', failure: waiting, dueAt, ...carry(d.options), ...counters }, delay);
    return dueAt;
  }

  /**
   * The stage's own onFailure retry goes first, but only for so long: its conditions may keep it
   * from ever running. The failure comes back after the wait, and the policy applies then unless
   * the stage moved on (the failed actions changed, or it runs again).
   */
  public async waitForNativeRetry(d: Delivery, view: StageView, detail: string): Promise<Result> {
    const { failure } = d;
    const wait = this.deps.settings.nativeRetryWaitSeconds;
    const dueAt = addSeconds(d.now, wait);
    await this.deps.delays.send({ v: 1, kind: 'event', failure, dueAt, nativeWaitOver: true, fingerprint: failureFingerprint(view) }, wait);
    return new ClaimHandler(this.deps, d).skip(
      SkipReason.NativeRetryPending,
      `${detail}; the policy applies if it has not run by ${dueAt.toISOString()}`,
      { view },
    );
  }
}

/** The options a failure sent back through the queue keeps, as a message carries them (unset ones left out). */
function carry(options: FailureOptions): FailureOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined && v !== false)) as FailureOptions;
}
