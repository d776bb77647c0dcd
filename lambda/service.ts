import type { BudgetPort } from './adapters/budget-store';
import type { DelayPort } from './adapters/delay-queue';
import type { LedgerPort } from './adapters/ledger-store';
import { NoticeKind, type NotifierPort } from './adapters/notifier';
import type { PipelinePort } from './adapters/pipeline-state';
import { RetryCallResult } from './adapters/pipeline-state';
import type { PolicyReader } from './adapters/policy-store';
import { checkRetryable, type Decision, decide, SkipReason } from './domain/decision';
import type { DelayedRetryMessage } from './domain/events';
import { type Claim, ClaimStatus, isStale, type LedgerKey, TERMINAL_STATUSES } from './domain/ledger';
import { PolicyMode, type RetryPolicy, resolvePolicy } from './domain/policy';
import { ActionStatus, failureFingerprint, type StageFailure, type StageView } from './domain/types';
import type { Logger } from './log';
import { MetricName, type MetricsPort } from './observability';

export interface ServiceSettings {
  /** How long a claim's holder may take to call RetryStageExecution before another delivery may take over. */
  readonly leaseSeconds: number;
  /** When a scheduled retry's message seems lost, how long after its due time a redelivery takes it over. */
  readonly scheduledGraceSeconds: number;
  /** Wait before trying again when CodePipeline answers Conflict or the concurrency limit. */
  readonly busyRetryDelaySeconds: number;
  /** Give up after this many busy answers for one claim. */
  readonly maxBusyRetries: number;
}

export const DEFAULT_SETTINGS: ServiceSettings = {
  leaseSeconds: 120,
  scheduledGraceSeconds: 300,
  busyRetryDelaySeconds: 60,
  maxBusyRetries: 10,
};

export interface ServiceDeps {
  readonly pipelines: PipelinePort;
  readonly policies: PolicyReader;
  readonly ledger: LedgerPort;
  readonly delays: DelayPort;
  readonly logger: Logger;
  readonly clock: () => Date;
  readonly newToken: () => string;
  /** Numbers in [0, 1) for jitter. */
  readonly random: () => number;
  readonly budgets: BudgetPort;
  readonly metrics: MetricsPort;
  readonly notifier: NotifierPort;
  readonly settings: ServiceSettings;
}

/** The words of a decision log line, shared with the ledger's outcome field. */
export const Outcome = {
  Retried: 'retried',
  Scheduled: 'scheduled',
  Rescheduled: 'rescheduled',
  Waiting: 'waiting',
  Deferred: 'deferred',
  Skipped: 'skipped',
  Observed: 'observed',
  Recovered: 'recovered',
  Abandoned: 'abandoned',
  Failed: 'failed',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface Result {
  readonly outcome: Outcome;
  readonly reason: string;
  readonly attempt?: number;
}

/**
 * Orchestrates one failure: re-check the live state, decide, claim in the ledger, then retry now
 * or hand the claim to the delay queue. Faults (DynamoDB, SQS, CodePipeline throttling) escape
 * as TransientFaultError so the event is kept by Lambda's retry.
 */
export class RetryService {
  private readonly s: ServiceSettings;

  public constructor(private readonly deps: ServiceDeps) {
    this.s = deps.settings;
  }

  public async handleFailure(failure: StageFailure): Promise<Result> {
    const { pipelines, policies, ledger, clock } = this.deps;
    // Policies first (cached on a warm instance), then the live state and, only when the policy
    // needs its history (backoff, retry window, counting others' retries), the ledger record.
    // Otherwise the conditional claim alone settles duplicates and limits: one call fewer.
    const context = await policies.load(failure.pipeline, failure.stage);
    const resolved = resolvePolicy(context.layers);
    const { policy } = resolved;
    const [lookup, recorded] = await Promise.all([
      pipelines.getStage(failure.pipeline, failure.stage),
      needsLedgerHistory(policy) ? ledger.view(keyOf(failure), failure.occurrence) : Promise.resolve(undefined),
    ]);
    const now = clock();
    for (const problem of context.problems) this.deps.logger.log('warn', 'ignoring invalid policy field', { problem });

    if (lookup.kind === 'no-pipeline') {
      return this.skip(failure, SkipReason.PipelineNotFound, `pipeline ${failure.pipeline} does not exist`, now);
    }
    const view = lookup.kind === 'found' ? lookup.view : undefined;
    // This failure already has a claim: a duplicate delivery, or a takeover after a crash.
    if (recorded?.claim) return this.handleExistingClaim(failure, recorded.claim, view, now, policy);
    const snapshot = recorded?.snapshot ?? { retries: 0, firstFailureAt: undefined };

    const decision = decide(failure, view, resolved, { paused: context.paused, ledger: snapshot, random: this.deps.random }, now);
    if (decision.kind === 'skip') return this.skip(failure, decision.reason, decision.detail, now, view);
    if (policy.mode === PolicyMode.Observe) {
      const would = decision.kind === 'retry-now' ? 'now' : `at ${decision.at.toISOString()}`;
      const detail = `would retry ${decision.retryMode} ${would} (${decision.reason})`;
      await ledger.recordSkip(keyOf(failure), failure.occurrence, SkipReason.ObserveOnly, detail, now, failure.failedAt);
      return this.report(failure, undefined, Outcome.Observed, `${SkipReason.ObserveOnly}: ${detail}`);
    }

    const retryNow = decision.kind === 'retry-now';
    const dueAt = decision.kind === 'retry-at' ? decision.at : now;
    const result = await ledger.claim(keyOf(failure), {
      occurrence: failure.occurrence,
      status: retryNow ? ClaimStatus.Retrying : ClaimStatus.Scheduled,
      retryMode: decision.retryMode,
      dueAt,
      leaseUntil: retryNow ? this.lease(now) : addSeconds(dueAt, this.s.scheduledGraceSeconds),
      token: this.deps.newToken(),
      fingerprint: view ? failureFingerprint(view) : '',
      maxRetries: decision.allowedRetries,
      ...(recorded ? { expectedRetries: recorded.snapshot.retries } : {}),
      failedAt: failure.failedAt,
      now,
    });
    switch (result.kind) {
      case 'exhausted':
        return this.skip(
          failure,
          SkipReason.MaxRetries,
          `all ${policy.maxRetries} automatic retries of this stage execution are used`,
          now,
          view,
        );
      case 'exists':
        return this.handleExistingClaim(failure, result.claim, view, now, policy);
      case 'claimed':
        if (retryNow) return this.retry(failure, result.claim, view, policy, decision);
        return this.schedule(failure, result.claim, dueAt, now, decision);
    }
  }

  /** A delay-queue message: chain if not yet due, else re-check the state and retry. */
  public async handleDelayed(message: DelayedRetryMessage): Promise<Result> {
    const { failure } = message;
    const now = this.deps.clock();
    const remaining = Math.ceil((message.dueAt.getTime() - now.getTime()) / 1000);
    if (remaining > 0) {
      await this.deps.delays.send(message, remaining);
      return this.report(failure, undefined, Outcome.Waiting, `due at ${message.dueAt.toISOString()}, ${remaining}s left`);
    }
    const claim = await this.deps.ledger.get(keyOf(failure), failure.occurrence);
    if (!claim) return this.report(failure, undefined, Outcome.Skipped, 'no claim in the ledger for this message', { level: 'warn' });
    if (TERMINAL_STATUSES.includes(claim.status)) {
      return this.report(failure, claim.attempt, Outcome.Skipped, `${SkipReason.Duplicate}: claim is already ${claim.status}`);
    }
    if (claim.status === ClaimStatus.Scheduled && Date.parse(claim.dueAt) > now.getTime()) {
      // The claim was rescheduled after this message was sent; a newer message carries it.
      return this.report(failure, claim.attempt, Outcome.Skipped, `${SkipReason.Duplicate}: rescheduled to ${claim.dueAt}`);
    }
    if (claim.status === ClaimStatus.Retrying && !isStale(claim, now)) return this.deferCheck(failure, claim, now);

    const held = await this.acquire(failure, claim, now);
    if (!held) return this.report(failure, claim.attempt, Outcome.Skipped, `${SkipReason.Duplicate}: another instance took the claim`);
    const [lookup, context] = await Promise.all([
      this.deps.pipelines.getStage(failure.pipeline, failure.stage),
      this.deps.policies.load(failure.pipeline, failure.stage),
    ]);
    const uncertain = claim.status === ClaimStatus.Retrying;
    const { policy } = resolvePolicy(context.layers);
    if (context.paused) return this.abandon(failure, held, SkipReason.Paused, 'paused while the retry waited', uncertain);
    if (policy.mode === PolicyMode.Observe) {
      return this.abandon(failure, held, SkipReason.ObserveOnly, 'the policy was switched to observe while the retry waited', uncertain);
    }
    const view = lookup.kind === 'found' ? lookup.view : undefined;
    return this.retry(failure, held, view, policy, undefined, uncertain);
  }

  private async handleExistingClaim(
    failure: StageFailure,
    claim: Claim,
    view: StageView | undefined,
    now: Date,
    policy: RetryPolicy,
  ): Promise<Result> {
    if (TERMINAL_STATUSES.includes(claim.status)) {
      return this.report(
        failure,
        claim.attempt,
        Outcome.Skipped,
        `${SkipReason.Duplicate}: this failure was already handled (${claim.status})`,
      );
    }
    if (isStale(claim, now)) {
      // The holder died (or its delay message was lost): take over, and retry only if the
      // failed actions are still the ones it claimed, i.e. its retry never happened.
      const held = await this.acquire(failure, claim, now);
      if (held) return this.retry(failure, held, view, policy, undefined, claim.status === ClaimStatus.Retrying);
      return this.report(failure, claim.attempt, Outcome.Skipped, `${SkipReason.Duplicate}: another instance took the claim`);
    }
    if (claim.status === ClaimStatus.Scheduled) {
      return this.report(failure, claim.attempt, Outcome.Skipped, `${SkipReason.Duplicate}: retry already scheduled for ${claim.dueAt}`);
    }
    return this.deferCheck(failure, claim, now);
  }

  /**
   * Another instance holds the claim right now. Rather than drop this delivery (the holder may
   * crash) or fail it (noise), look again through the delay queue once the lease has run out.
   */
  private async deferCheck(failure: StageFailure, claim: Claim, now: Date): Promise<Result> {
    const at = addSeconds(new Date(claim.leaseUntil), 1);
    await this.deps.delays.send({ v: 1, failure, dueAt: at }, (at.getTime() - now.getTime()) / 1000);
    return this.report(failure, claim.attempt, Outcome.Deferred, `retry in flight elsewhere; checking again at ${at.toISOString()}`);
  }

  private async schedule(failure: StageFailure, claim: Claim, dueAt: Date, now: Date, decision: Decision): Promise<Result> {
    try {
      await this.deps.delays.send({ v: 1, failure, dueAt }, (dueAt.getTime() - now.getTime()) / 1000);
    } catch (error) {
      // Give the slot back so the redelivered event can claim it again, then let the fault escape.
      await this.deps.ledger.release(keyOf(failure), claim).catch(() => false);
      throw error;
    }
    return this.report(failure, claim.attempt, Outcome.Scheduled, `${decision.reason}; retry due at ${dueAt.toISOString()}`);
  }

  /** We hold the claim: re-check, call RetryStageExecution, record what happened. */
  private async retry(
    failure: StageFailure,
    claim: Claim,
    view: StageView | undefined,
    policy: RetryPolicy,
    decision: Decision | undefined,
    previousHolderMayHaveRetried = false,
  ): Promise<Result> {
    const keepSlot = previousHolderMayHaveRetried;
    if (!view) return this.abandon(failure, claim, SkipReason.StageNotFound, 'the stage is gone', keepSlot);
    const problem = checkRetryable(failure, view, policy.overrideBuiltIns);
    if (problem?.kind === 'skip') return this.abandon(failure, claim, problem.reason, problem.detail, keepSlot);
    if (failureFingerprint(view) !== claim.fingerprint) {
      return this.abandon(failure, claim, SkipReason.StageChanged, 'the failed actions changed since the failure was claimed', keepSlot);
    }

    const budgetId = `${failure.stage}#${failure.executionId}#${failure.occurrence}`;
    if (policy.budget) {
      const spent = await this.deps.budgets.reserve(failure.pipeline, budgetId, policy.budget, this.deps.clock());
      if (!spent.ok) {
        return this.abandon(
          failure,
          claim,
          SkipReason.BudgetExhausted,
          `circuit open: ${spent.used} of ${policy.budget.maxRetries} retries used in the last ${policy.budget.windowSeconds}s; ` +
            `it closes at ${spent.reopensAt.toISOString()}`,
          keepSlot,
          view,
        );
      }
    }
    const call = await this.deps.pipelines.retryStage(failure.pipeline, failure.stage, failure.executionId, claim.retryMode);
    const now = this.deps.clock();
    if (policy.budget && call.result !== RetryCallResult.Started) await this.deps.budgets.release(failure.pipeline, budgetId, now);
    const detail = `${call.error ?? ''}${call.message ? `: ${call.message}` : ''}`;
    switch (call.result) {
      case RetryCallResult.Started:
        await this.finish(failure, claim, ClaimStatus.Retried, Outcome.Retried, `RetryStageExecution ${claim.retryMode}`, now);
        return this.report(
          failure,
          claim.attempt,
          Outcome.Retried,
          `${decision && decision.kind !== 'skip' ? `${decision.reason}; ` : ''}RetryStageExecution ${claim.retryMode}`,
        );
      case RetryCallResult.NotRetryable:
        return this.abandon(failure, claim, SkipReason.NotRetryable, detail, false, view);
      case RetryCallResult.NotLatest:
        return this.abandon(failure, claim, SkipReason.Superseded, detail);
      case RetryCallResult.Busy:
        return this.retryLater(failure, claim, detail, now);
      case RetryCallResult.Permanent:
        await this.finish(failure, claim, ClaimStatus.Failed, Outcome.Failed, detail, now);
        await this.tell(failure, NoticeKind.RetryFailed, detail, view);
        return this.report(failure, claim.attempt, Outcome.Failed, detail, { level: 'error', code: 'permanent-error' });
    }
  }

  private async retryLater(failure: StageFailure, claim: Claim, detail: string, now: Date): Promise<Result> {
    if (claim.busyCount + 1 > this.s.maxBusyRetries) {
      return this.abandon(failure, claim, 'busy-too-long', `${detail} (${claim.busyCount + 1} times)`);
    }
    const dueAt = addSeconds(now, this.s.busyRetryDelaySeconds);
    const token = this.deps.newToken();
    const moved = await this.deps.ledger.reschedule(keyOf(failure), claim, token, dueAt, addSeconds(dueAt, this.s.scheduledGraceSeconds));
    if (!moved) return this.lostClaim(failure, claim);
    await this.deps.delays.send({ v: 1, failure, dueAt }, this.s.busyRetryDelaySeconds);
    return this.report(failure, claim.attempt, Outcome.Rescheduled, `${detail}; trying again at ${dueAt.toISOString()}`);
  }

  private async abandon(
    failure: StageFailure,
    claim: Claim,
    reason: string,
    detail: string,
    keepSlot = false,
    view?: StageView,
  ): Promise<Result> {
    const why = withSlotNote(detail, keepSlot);
    await this.finish(failure, claim, ClaimStatus.Abandoned, reason, why, this.deps.clock(), keepSlot);
    const kind = NOTIFY_ON[reason];
    if (kind) await this.tell(failure, kind, `${reason}: ${why}`, view);
    return this.report(failure, claim.attempt, Outcome.Abandoned, `${reason}: ${why}`, { code: reason });
  }

  private async finish(
    failure: StageFailure,
    claim: Claim,
    status: typeof ClaimStatus.Retried | typeof ClaimStatus.Abandoned | typeof ClaimStatus.Failed,
    outcome: string,
    reason: string,
    now: Date,
    keepSlot = false,
  ): Promise<void> {
    const done = await this.deps.ledger.finish(keyOf(failure), claim, { status, outcome, reason, now, keepSlot });
    if (!done) this.lostClaim(failure, claim);
  }

  private async acquire(failure: StageFailure, claim: Claim, now: Date): Promise<Claim | undefined> {
    const token = this.deps.newToken();
    const leaseUntil = this.lease(now);
    const ok = await this.deps.ledger.acquire(keyOf(failure), claim, token, leaseUntil);
    return ok ? { ...claim, token, status: ClaimStatus.Retrying, leaseUntil: leaseUntil.toISOString() } : undefined;
  }

  private lostClaim(failure: StageFailure, claim: Claim): Result {
    return this.report(failure, claim.attempt, Outcome.Skipped, 'another instance took the claim over meanwhile', { level: 'warn' });
  }

  private async skip(failure: StageFailure, reason: SkipReason, detail: string, now: Date, view?: StageView): Promise<Result> {
    const { first, claim } = await this.deps.ledger.recordSkip(keyOf(failure), failure.occurrence, reason, detail, now, failure.failedAt);
    if (claim && isStale(claim, now)) {
      // An earlier delivery claimed this failure and died: settle its claim with this decision.
      const held = await this.acquire(failure, claim, now);
      const keepSlot = claim.status === ClaimStatus.Retrying;
      if (held) await this.finish(failure, held, ClaimStatus.Abandoned, reason, withSlotNote(detail, keepSlot), now, keepSlot);
    }
    const kind = NOTIFY_ON[reason];
    // A redelivered event gets the same answer, but operators hear about it once.
    if (kind && first) await this.tell(failure, kind, `${reason}: ${detail}`, view);
    return this.report(failure, undefined, Outcome.Skipped, `${reason}: ${detail}`, { code: reason });
  }

  /** A stage SUCCEEDED: if our retries got it there, record the recovery (once) and count it. */
  public async handleSuccess(failure: StageFailure): Promise<Result | undefined> {
    const now = this.deps.clock();
    const retries = await this.deps.ledger.recordRecovery(keyOf(failure), now);
    if (retries === undefined) return undefined;
    return this.report(
      failure,
      retries,
      Outcome.Recovered,
      `stage succeeded after ${retries} automatic ${retries === 1 ? 'retry' : 'retries'}`,
    );
  }

  /** Best effort: a notification that cannot be sent is logged, never a reason to fail the event. */
  private async tell(failure: StageFailure, kind: NoticeKind, reason: string, view: StageView | undefined): Promise<void> {
    try {
      await this.deps.notifier.notify({
        kind,
        pipeline: failure.pipeline,
        stage: failure.stage,
        executionId: failure.executionId,
        region: failure.region,
        reason,
        failureSummary: summarizeFailure(view),
      });
    } catch (error) {
      this.deps.logger.log('warn', 'notification not sent', { pipeline: failure.pipeline, stage: failure.stage, error });
    }
  }

  private count(failure: StageFailure, outcome: Outcome, attempt: number | undefined, code: string | undefined): void {
    const m = this.deps.metrics;
    if (outcome === Outcome.Retried || outcome === Outcome.Recovered) {
      const name = outcome === Outcome.Retried ? MetricName.RetryAttempted : MetricName.RetryRecovered;
      m.count(name, failure.pipeline, {}, { attempt: attempt ?? 0, stage: failure.stage });
      return;
    }
    if (!([Outcome.Skipped, Outcome.Abandoned, Outcome.Observed, Outcome.Failed] as Outcome[]).includes(outcome)) return;
    m.count(MetricName.RetrySkipped, failure.pipeline, { Reason: code ?? 'other' }, { stage: failure.stage });
    if (code === SkipReason.MaxRetries) m.count(MetricName.RetriesExhausted, failure.pipeline, {}, { stage: failure.stage });
    if (code === SkipReason.BudgetExhausted) m.count(MetricName.BudgetExhausted, failure.pipeline, {}, { stage: failure.stage });
  }

  private report(
    failure: StageFailure,
    attempt: number | undefined,
    outcome: Outcome,
    reason: string,
    opts: { level?: 'info' | 'warn' | 'error'; code?: string } = {},
  ): Result {
    this.count(failure, outcome, attempt, opts.code);
    this.deps.logger.log(opts.level ?? 'info', 'decision', {
      pipeline: failure.pipeline,
      stage: failure.stage,
      executionId: failure.executionId,
      occurrence: failure.occurrence,
      attempt,
      decision: outcome,
      reason,
    });
    return { outcome, reason, ...(attempt !== undefined ? { attempt } : {}) };
  }

  private lease(now: Date): Date {
    return addSeconds(now, this.s.leaseSeconds);
  }
}

/** The skip and abandon reasons that operators are told about, and how. */
const NOTIFY_ON: Partial<Record<string, NoticeKind>> = {
  [SkipReason.MaxRetries]: NoticeKind.Exhausted,
  [SkipReason.NeverRetryRule]: NoticeKind.NotRetryable,
  [SkipReason.NoRetryRuleMatch]: NoticeKind.NotRetryable,
  [SkipReason.NotRetryable]: NoticeKind.NotRetryable,
  [SkipReason.BudgetExhausted]: NoticeKind.CircuitOpen,
};

/** "UnitTests: JobFailed — Build timed out; Lint: …" from the stage's failed actions. */
export function summarizeFailure(view: StageView | undefined): string {
  return (view?.actions ?? [])
    .filter((a) => a.status === ActionStatus.Failed)
    .map((a) => `${a.name}: ${a.errorCode ?? 'failed'}${a.errorMessage || a.summary ? ` — ${a.errorMessage ?? a.summary}` : ''}`)
    .join('; ');
}

/** Says why a claim that ends without our retry still counts, when it does. */
function withSlotNote(detail: string, keepSlot: boolean): string {
  return keepSlot ? `${detail} (a crashed earlier holder may have retried; its slot stays counted)` : detail;
}

/** Policies whose decision depends on the stage execution's history in the ledger. */
function needsLedgerHistory(policy: RetryPolicy): boolean {
  return policy.backoff !== 1 || policy.maxRetryWindowSeconds !== undefined || policy.countManualRetries;
}

export function keyOf(failure: StageFailure): LedgerKey {
  return { pipeline: failure.pipeline, stage: failure.stage, executionId: failure.executionId };
}

function addSeconds(at: Date, seconds: number): Date {
  return new Date(at.getTime() + seconds * 1000);
}
