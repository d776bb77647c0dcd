import { isDeepStrictEqual } from 'node:util';
import { PolicySource, policyKey, type StoredPolicy } from '../lambda/adapters/items';
import { describeScope, type PolicySeed } from '../policy/scope';
import { describePatch } from './policy-flags';

/**
 * What importing `desired` would do to the table, a line each, in the words of a diff:
 * `+` new, `~` changed, `=` kept because an operator owns it, `-` removed (configuration no
 * longer has it), and unchanged items unmarked.
 */
export function importDiff(desired: readonly PolicySeed[], stored: readonly StoredPolicy[]): string[] {
  const byKey = new Map(stored.map((s) => [policyKey(s.scope).sk, s]));
  const lines: string[] = [];
  for (const seed of desired) {
    const current = byKey.get(policyKey(seed.scope).sk);
    const name = describeScope(seed.scope);
    if (!current) lines.push(`+ ${name}: ${describePatch(seed.patch)}`);
    else if (current.source !== PolicySource.Config) lines.push(`= ${name}: kept as an operator set it (${describePatch(current.patch)})`);
    else if (!isDeepStrictEqual(current.patch, seed.patch))
      lines.push(`~ ${name}: ${describePatch(current.patch)} → ${describePatch(seed.patch)}`);
    else lines.push(`  ${name}: unchanged`);
  }
  const wanted = new Set(desired.map((d) => policyKey(d.scope).sk));
  for (const s of stored) {
    if (s.source === PolicySource.Config && !wanted.has(policyKey(s.scope).sk))
      lines.push(`- ${describeScope(s.scope)}: no longer in the configuration`);
  }
  return lines;
}
