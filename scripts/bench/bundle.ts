import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { percentile } from './stats';

export interface BundleFigures {
  readonly bytes: number;
  /** Median time for a fresh process to load the bundle, ms. */
  readonly loadMs: number;
  /** The same for an empty handler, in the same run. */
  readonly emptyLoadMs: number;
}

/** Bundle size and load time: what a cold start pays on top of the runtime. */
export function measureBundle(entry: string): BundleFigures {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bundle-'));
  buildSync({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    sourcemap: 'external',
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    outfile: join(dir, 'index.js'),
    logLevel: 'silent',
  });
  writeFileSync(join(dir, 'empty.js'), 'exports.handler = async () => undefined;\n');
  const loadMs = (file: string) =>
    Number(
      execFileSync(process.execPath, [
        '-e',
        `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`,
      ]),
    );
  const loads = { bundle: [] as number[], empty: [] as number[] };
  for (let i = 0; i < 15; i++) {
    loads.bundle.push(loadMs(join(dir, 'index.js')));
    loads.empty.push(loadMs(join(dir, 'empty.js')));
  }
  return { bytes: statSync(join(dir, 'index.js')).size, loadMs: percentile(loads.bundle, 50), emptyLoadMs: percentile(loads.empty, 50) };
}
