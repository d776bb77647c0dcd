import { AUTO_RETRY_SECTIONS } from './config';
import { ConfigurationError } from './errors';
import { show } from './show';

/** Distance between two words: insertions, deletions and substitutions (for spotting misspellings). */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** Where the configuration came from, for messages: a cdk.json object, or a JSON string (`-c autoRetry='{…}'`). */
export type ConfigOrigin = 'cdk.json' | 'context string';

/**
 * The `autoRetry` configuration from the app's whole context. A context value given as a JSON
 * string (`cdk synth -c autoRetry='{…}'`) is parsed; a key that looks like `autoRetry` but is not
 * it (`autoretry`, `autoRetries`), or one of its sections beside it instead of inside it
 * (`organization`), is an error, not a silent synth with built-in defaults.
 */
export function autoRetryFromContext(context: Readonly<Record<string, unknown>>): { raw: unknown; origin: ConfigOrigin } {
  const lookalikes = Object.keys(context).filter(
    (key) => key !== 'autoRetry' && (key.toLowerCase() === 'autoretry' || editDistance(key.toLowerCase(), 'autoretry') <= 2),
  );
  // A section written next to autoRetry instead of inside it would be ignored just as silently.
  const misplaced = Object.keys(context).filter((key) => AUTO_RETRY_SECTIONS.some((s) => s.toLowerCase() === key.toLowerCase()));
  if (lookalikes.length > 0 || misplaced.length > 0) {
    throw new ConfigurationError([
      ...lookalikes.map(
        (key) => `context key ${show(key)} looks like "autoRetry", which is spelled exactly so; rename it (it would be ignored)`,
      ),
      ...misplaced.map(
        (key) =>
          `context key ${show(key)} is a section of autoRetry: move it inside the "autoRetry" block (next to it, it would be ignored)`,
      ),
    ]);
  }
  const raw = context.autoRetry;
  if (typeof raw !== 'string') return { raw, origin: 'cdk.json' };
  try {
    return { raw: JSON.parse(raw) as unknown, origin: 'context string' };
  } catch (error) {
    throw new ConfigurationError([
      `context autoRetry is a string but not JSON (as -c autoRetry='{…}' must be): ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
}
