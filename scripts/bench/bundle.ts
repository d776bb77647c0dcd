import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE_FILE, bundleFunction } from '../../lib/bundling';
import { percentile } from './stats';

export interface BundleFigures {
  /** What a cold start loads: index.mjs and the chunks it imports statically. */
  readonly bytes: number;
  /** The packages in it. */
  readonly packages: readonly string[];
  /** Median wall time of a fresh Node.js process that imports the bundle, ms. */
  readonly processMs: number;
  /** The same for an empty handler, in the same run. */
  readonly emptyProcessMs: number;
}

/**
 * Bundles `entry` exactly as the package build does (ES module and chunks, the packages' ES
 * builds, the default credential chain aliased away) and times what a cold start pays: a fresh process that
 * imports the file, as Lambda's Node.js runtime imports index.mjs, against one importing an
 * empty handler, alternating the two in one run.
 */
export function measureBundle(entry: string): BundleFigures {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bundle-'));
  const file = join(dir, BUNDLE_FILE);
  const output = bundleFunction(entry, dir);
  const empty = join(dir, 'empty.mjs');
  writeFileSync(empty, 'export const handler = async () => undefined;\n');
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const processMs = (path: string) => {
    const started = process.hrtime.bigint();
    execFileSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(path)})`], { env });
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const runs = { bundle: [] as number[], empty: [] as number[] };
  for (let i = 0; i < 21; i++) {
    runs.bundle.push(processMs(file));
    runs.empty.push(processMs(empty));
  }
  return {
    bytes: output.loadedBytes,
    packages: output.loadedPackages,
    processMs: percentile(runs.bundle, 50),
    emptyProcessMs: percentile(runs.empty, 50),
  };
}
