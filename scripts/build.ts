/**
 * npm run build — the package: TypeScript compiled to dist/ (JavaScript and declarations), and
 * both functions bundled into dist/assets/<name>/ (index.mjs and its chunks), so the construct ships ready-made
 * Lambda code and a consumer's synth needs no esbuild and no lockfile of ours.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFunction, FUNCTIONS } from '../lib/bundling';

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');

rmSync(DIST, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const fn of Object.values(FUNCTIONS)) bundleFunction(join(ROOT, `${fn.entry}.ts`), join(DIST, 'assets', fn.asset));
process.stdout.write(`built ${DIST}\n`);
