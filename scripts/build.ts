/**
 * npm run build — the package, in three parts:
 * - the construct: contract/, policy/ and lib/ compiled to dist/ (JavaScript and declarations)
 *   by jsii, which also checks that the public API (lib/index.ts) is one every jsii language can
 *   use and writes the assembly, .jsii, beside package.json. jsii compiles with
 *   tsconfig.jsii.json, with the options jsii's strict rule set accepts (the repository's
 *   tsconfig.json adds noUncheckedIndexedAccess, which that rule set refuses; `npm run
 *   typecheck` still applies it);
 * - both functions bundled into dist/assets/<name>/ (index.mjs and its chunks), so the construct
 *   ships ready-made Lambda code and a consumer's synth needs no esbuild and no lockfile of ours;
 * - the operators' CLI bundled into one file, dist/cli/main.js, with everything it runs (the SDK
 *   clients, commander, and for the sandbox and the simulation the emulators, the handler and
 *   dynalite in memory), so a construct user installs no package for it: the construct's only
 *   dependency is safe-regex2, which synth's policy checks use.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleFunction, FUNCTIONS } from '../lib/bundling';

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');

/**
 * dynalite loads each operation's module by name, `require('./actions/' + action)`. esbuild bundles
 * such a require as every file the pattern can name, keyed by file name, so the name gets its `.js`.
 */
const dynaliteActions: import('esbuild').Plugin = {
  name: 'dynalite-actions',
  setup(build) {
    build.onLoad({ filter: /[\\/]dynalite[\\/]index\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      const named = source.replace(/require\('\.\/(actions|validations)\/' \+ action\)/g, "require('./$1/' + action + '.js')");
      if (named === source) throw new Error(`dynalite ${path}: its action loading changed; the CLI bundle needs a look`);
      return { contents: named, loader: 'js', resolveDir: dirname(path) };
    });
  },
};

async function bundleCli(outfile: string): Promise<void> {
  const { build } = require('esbuild') as typeof import('esbuild');
  await build({
    entryPoints: [join(ROOT, 'cli', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    alias: { level: join(__dirname, 'cli-bundle', 'level-in-memory-only.cjs') },
    plugins: [dynaliteActions],
    logLevel: 'warning',
  });
}

rmSync(DIST, { recursive: true, force: true });
// Node 20 is past jsii's support window; it still compiles there, so keep the banner out of the log.
const env = { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' };
execFileSync(process.execPath, [require.resolve('jsii/bin/jsii'), '--fail-on-warnings'], { cwd: ROOT, stdio: 'inherit', env });
for (const fn of Object.values(FUNCTIONS)) bundleFunction(join(ROOT, `${fn.entry}.ts`), join(DIST, 'assets', fn.asset));
void bundleCli(join(DIST, 'cli', 'main.js')).then(() => process.stdout.write(`built ${DIST}\n`));
