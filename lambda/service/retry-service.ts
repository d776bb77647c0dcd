import { decide } from '../domain/decision';
import type { DelayedRetryMessage } from '../domain/events';
import { type Claim, ClaimStatus, isStale, TERMINAL_STATUSES } from '../domain/ledger';
import { PolicyMode, type RetryPolicy, resolvePolicy } from '../domain/policy';
import { Outcome, SkipReason } from '../domain/reasons';
import { failureFingerprint, type StageFailure, type StageView } from '../domain/types';
import { ClaimHandler } from './claims';
import { addSeconds, keyOf, type Result, type ServiceDeps } from './deps';
import { Reporter } from './reporting';

/**
 * Orchestrates one failure: re-check the live state, decide, claim in the ledger, then retry now
 * or hand the claim to the delay queue. Faults (DynamoDB, SQS, CodePipeline throttling) escape
 * as TransientFaultError so the event is kept by Lambda's retry.
 */
export class RetryService {
  private readonly reporter: Reporter;
  private readonly claims: ClaimHandler;

  public constructor(private readonly deps: ServiceDeps) {
    this.reporter = new Reporter(deps);
    this.claims = new ClaimHandler(deps, this.reporter);
  }

  public async handleFailure(failure: StageFailure): Promise<Result> {
    const { pipelines, policies, ledger, clock, settings } = this.deps;
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
      return this.claims.skip(failure, SkipReason.PipelineNotFound, `pipeline ${failure.pipeline} does not exist`, now);
    }
    const view = lookup.kind === 'found' ? lookup.view : undefined;
    // This failure already has a claim: a duplicate delivery, or a takeover after a crash.
    if (recorded?.claim) return this.handleExistingClaim(failure, recorded.claim, view, now, policy);
    const snapshot = recorded?.snapshot ?? { retries: 0, firstFailureAt: undefined };

    const decision = decide(failure, view, resolved, { paused: context.paused, ledger: snapshot, random: this.deps.random }, now);
    if (decision.kind === 'skip') return this.claims.skip(failure, decision.reason, decision.detail, now, view);
    if (policy.mode === PolicyMode.Observe) {
      const would = decision.kind === 'retry-now' ? 'now' : `at ${decision.at.toISOString()}`;
      const detail = `would retry ${decision.retryMode} ${would} (${decision.reason})`;
      await ledger.recordSkip(keyOf(failure), failure.occurrence, SkipReason.ObserveOnly, detail, now, failure.failedAt);
      return this.reporter.decision(failure, undefined, Outcome.Observed, `${SkipReason.ObserveOnly}: ${detail}`);
    }

    const retryNow = decision.kind === 'retry-now';
    const dueAt = decision.kind === 'retry-at' ? decision.at : now;
    const result = await ledger.claim(keyOf(failure), {
      occurrence: failure.occurrence,
      status: retryNow ? ClaimStatus.Retrying : ClaimStatus.Scheduled,
      retryMode: decision.retryMode,
      dueAt,
      leaseUntil: retryNow ? this.claims.lease(now) : addSeconds(dueAt, settings.scheduledGraceSeconds),
      token: this.deps.newToken(),
      fingerprint: view ? failureFingerprint(view) : '',
      maxRetries: decision.allowedRetries,
      ...(recorded ? { expectedRetries: recorded.snapshot.retries } : {}),
      failedAt: failure.failedAt,
      now,
    });
    switch (result.kind) {
      case 'exhausted':
        return this.claims.skip(
          failure,
          SkipReason.MaxRetries,
          `all ${policy.maxRetries} automatic retries of this stage execution are used`,
          now,
          view,
        );
      case 'exists':
        return this.handleExistingClaim(failure, result.claim, view, now, policy);
      case 'claimed':
        if (retryNow) return this.claims.retry(failure, result.claim, view, policy, decision);
        return this.claims.schedule(failure, result.claim, dueAt, now, decision);
    }
  }

  /** A delay-queue message: chain if not yet due, else re-check the state and retry. */
  public async handleDelayed(message: DelayedRetryMessage): Promise<Result> {
    const { failure } = message;
    const now = this.deps.clock();
    const remaining = Math.ceil((message.dueAt.getTime() - now.getTime()) / 1000);
    if (remaining > 0) {
      await this.deps.delays.send(message, remaining);
      return this.reporter.decision(failure, undefined, Outcome.Waiting, `due at ${message.dueAt.toISOString()}, ${remaining}s left`);
    }
    const claim = await this.deps.ledger.get(keyOf(failure), failure.occurrence);
    if (!claim) {
      return this.reporter.decision(failure, undefined, Outcome.Skipped, `${SkipReason.NoClaim}: no claim in the ledger for this message`, {
        level: 'warn',
        code: SkipReason.NoClaim,
      });
    }
    if (TERMINAL_STATUSES.includes(claim.status)) {
      return this.duplicate(failure, claim, `claim is already ${claim.status}`);
    }
    if (claim.status === ClaimStatus.Scheduled && Date.parse(claim.dueAt) > now.getTime()) {
      // The claim was rescheduled after this message was sent; a newer message carries it.
      return this.duplicate(failure, claim, `rescheduled to ${claim.dueAt}`);
    }
    if (claim.status === ClaimStatus.Retrying && !isStale(claim, now)) return this.claims.deferCheck(failure, claim, now);

    const held = await this.claims.acquire(failure, claim, now);
    if (!held) return this.duplicate(failure, claim, 'another instance took the claim');
    const [lookup, context] = await Promise.all([
      this.deps.pipelines.getStage(failure.pipeline, failure.stage),
      this.deps.policies.load(failure.pipeline, failure.stage),
    ]);
    const uncertain = claim.status === ClaimStatus.Retrying;
    const { policy } = resolvePolicy(context.layers);
    if (context.paused) return this.claims.abandon(failure, held, SkipReason.Paused, 'paused while the retry waited', uncertain);
    if (policy.mode === PolicyMode.Observe) {
      return this.claims.abandon(
        failure,
        held,
        SkipReason.ObserveOnly,
        'the policy was switched to observe while the retry waited',
        uncertain,
      );
    }
    const view = lookup.kind === 'found' ? lookup.view : undefined;
    return this.claims.retry(failure, held, view, policy, undefined, uncertain);
  }

  /** A stage SUCCEEDED: if our retries got it there, record the recovery (once) and count it. */
  public async handleSuccess(failure: StageFailure): Promise<Result | undefined> {
    const now = this.deps.clock();
    const retries = await this.deps.ledger.recordRecovery(keyOf(failure), now);
    if (retries === undefined) return undefined;
    return this.reporter.decision(
      failure,
      retries,
      Outcome.Recovered,
      `stage succeeded after ${retries} automatic ${retries === 1 ? 'retry' : 'retries'}`,
    );
  }

  private async handleExistingClaim(
    failure: StageFailure,
    claim: Claim,
    view: StageView | undefined,
    now: Date,
    policy: RetryPolicy,
  ): Promise<Result> {
    if (TERMINAL_STATUSES.includes(claim.status)) {
      return this.duplicate(failure, claim, `this failure was already handled (${claim.status})`);
    }
    if (isStale(claim, now)) {
      // The holder died (or its delay message was lost): take over, and retry only if the
      // failed actions are still the ones it claimed, i.e. its retry never happened.
      const held = await this.claims.acquire(failure, claim, now);
      if (held) return this.claims.retry(failure, held, view, policy, undefined, claim.status === ClaimStatus.Retrying);
      return this.duplicate(failure, claim, 'another instance took the claim');
    }
    if (claim.status === ClaimStatus.Scheduled) return this.duplicate(failure, claim, `retry already scheduled for ${claim.dueAt}`);
    return this.claims.deferCheck(failure, claim, now);
  }

  private duplicate(failure: StageFailure, claim: Claim, detail: string): Result {
    return this.reporter.decision(failure, claim.attempt, Outcome.Skipped, `${SkipReason.Duplicate}: ${detail}`, {
      code: SkipReason.Duplicate,
    });
  }
}

/** Policies whose decision depends on the stage execution's history in the ledger. */
function needsLedgerHistory(policy: RetryPolicy): boolean {
  return policy.backoff !== 1 || policy.maxRetryWindowSeconds !== undefined || policy.countManualRetries;
}
