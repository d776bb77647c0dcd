import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(__dirname, '..', 'fixtures', 'events');

/** A fresh copy of a fixture event, safe to mutate in one test. */
export function loadEvent(name: string): Record<string, unknown> & { detail: Record<string, unknown> } {
  return structuredClone(JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')));
}
