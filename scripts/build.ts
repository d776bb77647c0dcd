/**
 * npm run build — the package: TypeScript compiled to dist/ (JavaScript and declarations) by jsii,
 * which also checks that the public API (lib/index.ts) is one every jsii language can use and
 * writes the assembly, .jsii, beside package.json; and both functions bundled into
 * dist/assets/<name>/ (index.mjs and its chunks), so the construct ships ready-made Lambda code
 * and a consumer's synth needs no esbuild and no lockfile of ours. jsii compiles with
 * tsconfig.jsii.json: contract, policy, lib, lambda, cli and local, with the
 * options jsii's strict rule set accepts (the repository's tsconfig.json adds noUncheckedIndexedAccess,
 * which that rule set refuses; `npm run typecheck` still applies it).
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFunction, FUNCTIONS } from '../lib/bundling';

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');

rmSync(DIST, { recursive: true, force: true });
// Node 20 is past jsii's support window; it still compiles there, so keep the banner out of the log.
const env = { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' };
execFileSync(process.execPath, [require.resolve('jsii/bin/jsii'), '--fail-on-warnings'], { cwd: ROOT, stdio: 'inherit', env });
for (const fn of Object.values(FUNCTIONS)) bundleFunction(join(ROOT, `${fn.entry}.ts`), join(DIST, 'assets', fn.asset));
process.stdout.write(`built ${DIST}\n`);
