/** Values and keys in messages: always one line, of bounded length, unambiguous. */

/** A value as a message shows it: JSON (so a newline is `\n`), at most 80 characters. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * The path of `key` under `parent`: `parent.key` for a plain name, `parent["odd.name"]` for a
 * key with dots, spaces, newlines or other characters that would make the path ambiguous.
 */
export function keyPath(parent: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${parent}.${key}` : `${parent}[${show(key)}]`;
}
