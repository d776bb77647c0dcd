import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The two functions and how they are bundled: ahead of time by the package build
 * (scripts/build.ts writes dist/assets/<name>/index.js), so an installed package needs neither
 * esbuild nor this repository's lockfile; or, when the construct runs from source in this
 * repository, at synth by NodejsFunction with the same options.
 */
export const FUNCTIONS = {
  retry: { asset: 'retry-function', entry: 'lambda/handler', handler: 'handler' },
  seed: { asset: 'seed-function', entry: 'lambda/seed/handler', handler: 'onEvent' },
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

/**
 * esbuild's options for both builds. ES module output with the packages' ES builds first lets
 * esbuild drop what the functions never use (other protocols, the default credential chain,
 * which an alias replaces); the banner gives CommonJS dependencies the `require` they expect.
 */
export const BUNDLE_OPTIONS = {
  minify: true,
  sourcemap: true,
  target: 'node22',
  platform: 'node',
  format: 'esm',
  mainFields: ['module', 'main'],
  banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
} as const;

/** Modules replaced in the bundles: the default credential chain, by a stub (credentials come from the environment). */
export const BUNDLE_ALIASES = {
  '@aws-sdk/credential-provider-node': path.join(__dirname, '..', 'lambda', 'adapters', 'no-default-credentials.ts'),
} as const;

/** The bundle's file name: an ES module, which Lambda's Node.js runtime loads as `index.handler`. */
export const BUNDLE_FILE = 'index.mjs';

/** The package root: the repository, or the installed package's dist/. */
export const PACKAGE_ROOT = path.join(__dirname, '..');

/** The pre-built asset directory of a function, when the package build made one. */
export function prebuiltAsset(name: FunctionName): string | undefined {
  const dir = path.join(PACKAGE_ROOT, 'assets', FUNCTIONS[name].asset);
  return existsSync(path.join(dir, BUNDLE_FILE)) ? dir : undefined;
}
