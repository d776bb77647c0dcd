import { type TableKey, TableKeys } from '../../contract';
import type { RetryMode } from '../../policy/policy';
import { type PolicyPatch, validatePolicyPatch } from '../../policy/policy';
import type { PolicyScope } from '../../policy/scope';
import { type Claim, failureRecordOf } from '../domain/ledger';
import type { TestIdentity } from '../domain/provider-answers';
import type { Item } from './dynamo-table';

/**
 * How the domain's values are stored in table items, for every reader: the retry function, the
 * seeder and the CLI.
 */

/** A ledger record holds one claim per failure occurrence, and one skip per occurrence. */
export const claimAttribute = (occurrence: number): string => `occ_${occurrence}`;
export const skipAttribute = (occurrence: number): string => `skip_${occurrence}`;
const CLAIM_ATTRIBUTE = /^occ_\d+$/;

/** Every claim a ledger record holds, by occurrence. */
export function claimsOf(item: Item | undefined): Claim[] {
  if (!item) return [];
  return Object.entries(item)
    .filter(([name]) => CLAIM_ATTRIBUTE.test(name))
    .map(([, raw]) => claimOf(raw));
}

export function claimOf(raw: unknown): Claim {
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
    throttleCount: Number(c.throttleCount ?? 0),
    uncertain: c.uncertain === true,
    ...(c.manualBefore !== undefined ? { manualBefore: Number(c.manualBefore) } : {}),
    ...(c.heldSince !== undefined ? { heldSince: String(c.heldSince) } : {}),
    ...(c.mayHaveCalledSince !== undefined ? { mayHaveCalledSince: String(c.mayHaveCalledSince) } : {}),
    ...(c.wakeups !== undefined ? { wakeups: Number(c.wakeups) } : {}),
    ...(c.eventId !== undefined ? { eventId: String(c.eventId) } : {}),
    ...(c.failedAt !== undefined ? { failedAt: String(c.failedAt) } : {}),
    ...(c.pipelineVersion !== undefined ? { pipelineVersion: Number(c.pipelineVersion) } : {}),
    ...(c.outcome !== undefined ? { outcome: String(c.outcome) } : {}),
    ...(c.reason !== undefined ? { reason: String(c.reason) } : {}),
    ...(c.finishedAt !== undefined ? { finishedAt: String(c.finishedAt) } : {}),
    ...failureRecordOf({
      ...(c.failureClass !== undefined ? { failureClass: String(c.failureClass) } : {}),
      ...(c.evidence !== undefined ? { evidence: String(c.evidence) } : {}),
      ...(c.failedTests !== undefined ? { failedTests: testsOf(c.failedTests) } : {}),
      ...(c.actionClasses !== undefined ? { actionClasses: classesOf(c.actionClasses) } : {}),
    }),
  };
}

/** The well-formed test identities of a stored list (each with a report group, a suite and a name); others are left out. */
export function testsOf(raw: unknown): TestIdentity[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((t: Record<string, unknown> | null) =>
    t && typeof t.reportGroup === 'string' && typeof t.suite === 'string' && typeof t.name === 'string'
      ? [{ reportGroup: t.reportGroup, suite: t.suite, name: t.name }]
      : [],
  );
}

/** The well-formed entries of a stored map of action name to class (text values); others are left out. */
export function classesOf(raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  return Object.fromEntries(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export function policyKey(scope: PolicyScope): TableKey {
  switch (scope.kind) {
    case 'default':
      return TableKeys.defaultPolicy();
    case 'account':
      return TableKeys.accountPolicy(scope.account);
    case 'pipeline':
      return TableKeys.pipelinePolicy(scope.pipeline, scope.account);
    case 'stage':
      return TableKeys.stagePolicy(scope.pipeline, scope.stage, scope.account);
  }
}

/** The readable attributes a policy item carries beside its key: whose policy it is. */
export function scopeAttributes(scope: PolicyScope): Record<string, string> {
  return {
    ...(scope.kind !== 'default' && scope.account !== undefined ? { account: scope.account } : {}),
    ...(scope.kind === 'pipeline' || scope.kind === 'stage' ? { pipeline: scope.pipeline } : {}),
    ...(scope.kind === 'stage' ? { stage: scope.stage } : {}),
  };
}

export function scopeOfSortKey(sk: string): PolicyScope | undefined {
  if (sk === 'DEFAULT') return { kind: 'default' };
  const [kind, target, stage] = sk.split('#');
  if (kind === 'A' && target) return { kind: 'account', account: target };
  const [account, pipeline] = target?.includes('/') ? target.split('/') : [undefined, target];
  if (kind === 'P' && pipeline) return { kind: 'pipeline', pipeline, ...(account ? { account } : {}) };
  if (kind === 'S' && pipeline && stage) return { kind: 'stage', pipeline, stage, ...(account ? { account } : {}) };
  return undefined;
}

/** Who wrote a policy item. Deploys only ever overwrite or delete items they wrote themselves. */
export const PolicySource = { Config: 'config', Cli: 'cli' } as const;
export type PolicySource = (typeof PolicySource)[keyof typeof PolicySource];

/** The policy fields of an item, validated; fields that fail validation are left out and reported. */
export function policyOfItem(item: Item, path: string): { patch: PolicyPatch; problems: string[] } {
  return validatePolicyPatch(item, path);
}

/** A policy item as operators and the seeder see it. */
export interface StoredPolicy {
  readonly scope: PolicyScope;
  readonly patch: PolicyPatch;
  readonly source: string;
  readonly updatedAt: string | undefined;
  readonly updatedBy: string | undefined;
}

/** A policy item read back; undefined for an item whose key names no policy. */
export function storedPolicyOf(item: Item): StoredPolicy | undefined {
  const scope = scopeOfSortKey(String(item.sk));
  if (!scope) return undefined;
  return {
    scope,
    patch: policyOfItem(item, 'policy').patch,
    source: String(item.source ?? PolicySource.Config),
    updatedAt: item.updatedAt as string | undefined,
    updatedBy: item.updatedBy as string | undefined,
  };
}
