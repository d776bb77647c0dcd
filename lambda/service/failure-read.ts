import { type ResolvedPolicy, type RetryPolicy, resolvePolicy } from '../../policy/policy';
import { stageRefOf } from '../domain/refs';
import { FALLBACK_OCCURRENCE_BASE, type ReportedFailure, StageStatus, type StageView } from '../domain/types';
import type { LedgerView, PolicyContext, StageLookup } from '../ports';
import type { Delivery } from './delivery';
import type { ServiceDeps } from './service-settings';

/** The first step of a failure's handling: what is read before anything is decided. */

/** What a delivery read before deciding: the policies, the live stage, and the ledger record when the policy needs its history. */
export interface FailureRead {
  readonly context: PolicyContext;
  readonly resolved: ResolvedPolicy;
  /** The policy's decision depends on the stage execution's history in the ledger. */
  readonly history: boolean;
  readonly lookup: StageLookup;
  readonly view: StageView | undefined;
  readonly early: LedgerView | undefined;
}

/**
 * Policies first (cached on a warm instance), then the live state and, only when the policy
 * needs its history (backoff, retry window, counting others' retries), the ledger record.
 * Otherwise the conditional claim alone settles duplicates and limits: one call fewer.
 */
export async function readFailure(deps: ServiceDeps, reported: ReportedFailure): Promise<FailureRead> {
  const { pipelines, policies, ledger } = deps;
  const context = await policies.load(reported, reported.stage);
  const resolved = resolvePolicy(context.layers);
  const history = needsLedgerHistory(resolved.policy);
  const [lookup, early] = await Promise.all([
    pipelines.getStage(stageRefOf(reported)),
    history && reported.occurrence !== undefined ? ledger.view(stageRefOf(reported), reported.occurrence) : Promise.resolve(undefined),
  ]);
  return { context, resolved, history, lookup, view: lookup.kind === 'found' ? lookup.view : undefined, early };
}

/**
 * The ledger record, when the read did not bring it and it matters: the policy needs its
 * history, or a later failure of the execution reads as failed, and the ledger says whether
 * that failure is one our earlier retry already re-ran (the read then lags behind).
 */
export async function readRecord(d: Delivery, read: FailureRead): Promise<LedgerView | undefined> {
  const { occurrence } = d.failure;
  const repeat = read.view?.status === StageStatus.Failed && occurrence > 1 && occurrence < FALLBACK_OCCURRENCE_BASE;
  return read.early ?? (read.history || repeat ? await d.view() : undefined);
}

/** Policies whose decision depends on the stage execution's history in the ledger. */
function needsLedgerHistory(policy: RetryPolicy): boolean {
  return policy.backoff !== 1 || policy.maxRetryWindowSeconds !== undefined || policy.countManualRetries;
}
