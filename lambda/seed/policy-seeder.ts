import { Partition } from '../../contract';
import type { PolicySeed } from '../../policy/scope';
import type { DynamoTable } from '../adapters/dynamo-table';
import { PolicySource, policyKey, scopeAttributes, storedPolicyOf } from '../adapters/items';

export interface SeedResult {
  readonly written: string[];
  /** Items an operator changed with the CLI: the deploy left them as they are. */
  readonly keptOperatorChanges: string[];
  readonly removed: string[];
}

const FROM_CONFIG = { expression: '#source = :config', names: { '#source': 'source' }, values: { ':config': PolicySource.Config } };

/**
 * Writes the policies from configuration, as every deploy does. An item an operator changed with
 * the CLI (source = cli) is never overwritten or deleted; it is reported instead. Configuration
 * items that configuration no longer has are removed.
 */
export async function seedPolicies(table: DynamoTable, desired: readonly PolicySeed[], now: Date): Promise<SeedResult> {
  const result: SeedResult = { written: [], keptOperatorChanges: [], removed: [] };
  const desiredKeys = new Set(desired.map((d) => policyKey(d.scope).sk));
  for (const { scope, patch } of desired) {
    const key = policyKey(scope);
    const item = {
      ...key,
      ...patch,
      ...scopeAttributes(scope),
      source: PolicySource.Config,
      updatedAt: now.toISOString(),
      updatedBy: 'deploy',
    };
    const written = await table.put(item, { ...FROM_CONFIG, expression: `attribute_not_exists(pk) OR ${FROM_CONFIG.expression}` });
    (written ? result.written : result.keptOperatorChanges).push(key.sk);
  }
  for (const item of await table.query(Partition.Policy)) {
    const stored = storedPolicyOf(item);
    if (!stored || stored.source !== PolicySource.Config) continue;
    const key = policyKey(stored.scope);
    if (desiredKeys.has(key.sk)) continue;
    if (await table.delete(key, FROM_CONFIG)) result.removed.push(key.sk);
  }
  return result;
}
