import { Partition, type TableKey, TableKeys } from '../../contract';
import type { DynamoTable } from '../../lambda/adapters/dynamo-table';
import { PolicySource, policyKey, type StoredPolicy, scopeAttributes, storedPolicyOf } from '../../lambda/adapters/items';
import { contextOf, DynamoPolicyReader } from '../../lambda/adapters/policy-reader';
import type { PolicyContext } from '../../lambda/ports';
import { type SeedResult, seedPolicies } from '../../lambda/seed/policy-seeder';
import { InvalidInputError } from '../../policy/errors';
import { POLICY_FIELDS, type PolicyPatch } from '../../policy/policy';
import { type PolicyScope, type PolicySeed, parsePolicyTarget } from '../../policy/scope';

/** The most a policy item's fields may take: a few rules, never near DynamoDB's 400 KB item limit. */
export const MAX_POLICY_BYTES = 16 * 1024;

function pauseKey(target: string): TableKey {
  if (target === '*') return TableKeys.pauseAll();
  const parsed = parsePolicyTarget(target, 'pause target');
  return parsed.pipeline === undefined ? TableKeys.pauseAccount(parsed.account) : TableKeys.pause(parsed.pipeline, parsed.account);
}

/** A pause switch: one pipeline (in every account, or `<account>/<pipeline>`), `account:<id>`, or `*` for all of them. */
export interface PauseSwitch {
  readonly pipeline: string;
  readonly updatedAt: string | undefined;
  readonly updatedBy: string | undefined;
}

/** Policies and pause switches, as operators change them. Every item written here is operator-owned. */
export class PolicyAdmin {
  public constructor(private readonly table: DynamoTable) {}

  /** What the retry function would read for this stage (of the pipeline in `account`, when given). */
  public async load(pipeline: string, stage: string, account?: string): Promise<PolicyContext> {
    return contextOf(await new DynamoPolicyReader(this.table).snapshot(), account, pipeline, stage);
  }

  /** Merges the given fields into a policy item and marks it as the operator's. */
  public async setPolicy(scope: PolicyScope, patch: PolicyPatch, updatedBy: string, now: Date): Promise<void> {
    const size = Buffer.byteLength(JSON.stringify(patch));
    if (size > MAX_POLICY_BYTES) {
      throw new InvalidInputError(`the policy would take ${size} bytes in the table; at most ${MAX_POLICY_BYTES}: fewer or shorter rules`);
    }
    const names: Record<string, string> = { '#source': 'source', '#updatedAt': 'updatedAt', '#updatedBy': 'updatedBy' };
    const values: Record<string, unknown> = { ':source': PolicySource.Cli, ':now': now.toISOString(), ':by': updatedBy };
    const sets = ['#source = :source', '#updatedAt = :now', '#updatedBy = :by'];
    for (const field of POLICY_FIELDS) {
      if (patch[field] === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = patch[field];
      sets.push(`#${field} = :${field}`);
    }
    for (const [attribute, value] of Object.entries(scopeAttributes(scope))) {
      names[`#${attribute}`] = attribute;
      values[`:${attribute}`] = value;
      sets.push(`#${attribute} = :${attribute}`);
    }
    await this.table.update(policyKey(scope), { expression: `SET ${sets.join(', ')}`, names, values });
  }

  /** Deletes a policy item; returns whether there was one. */
  public async deletePolicy(scope: PolicyScope): Promise<boolean> {
    return (await this.table.delete(policyKey(scope))) !== undefined;
  }

  /** Pauses `target`: `*` (everything), a pipeline in every account, `<account>/<pipeline>`, or `account:<account>`. */
  public async pause(target: string, by: { readonly updatedBy: string; readonly now: Date }): Promise<void> {
    await this.table.put({ ...pauseKey(target), paused: true, updatedAt: by.now.toISOString(), updatedBy: by.updatedBy });
  }

  /**
   * Lifts the pause switch of `target`; returns whether there was one to lift. Read first: when
   * the delete's answer is lost and the SDK sends it again, the second delete finds nothing, and
   * its answer alone would say there was no switch.
   */
  public async resume(target: string): Promise<boolean> {
    const key = pauseKey(target);
    const before = await this.table.get(key);
    const deleted = await this.table.delete(key);
    return before !== undefined || deleted !== undefined;
  }

  /** Paused pipelines; `*` is the kill switch (every pipeline, every account). */
  public async listPauses(): Promise<PauseSwitch[]> {
    const items = await this.table.query(Partition.Pause);
    return items
      .filter((i) => i.paused === true)
      .map((i) => ({ pipeline: String(i.sk), updatedAt: i.updatedAt as string | undefined, updatedBy: i.updatedBy as string | undefined }));
  }

  /** Writes policies from configuration exactly as a deploy does (operator-owned items are kept). */
  public importPolicies(policies: readonly PolicySeed[], now: Date): Promise<SeedResult> {
    return seedPolicies(this.table, policies, now);
  }

  public async listPolicies(): Promise<StoredPolicy[]> {
    return (await this.table.query(Partition.Policy)).map(storedPolicyOf).filter((p): p is StoredPolicy => p !== undefined);
  }
}
