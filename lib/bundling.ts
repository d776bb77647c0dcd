import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The two functions and how they are bundled: ahead of time by the package build
 * (scripts/build.ts writes dist/assets/<name>/index.mjs and its chunks), so an installed package
 * needs neither esbuild nor this repository's lockfile; or, when the construct runs from source in
 * this repository, at synth by the same function, with the local esbuild (never Docker).
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

/** What a bundle is made of: the files written, and the bytes a cold start loads (index.mjs and the chunks it imports statically). */
export interface BundleOutput {
  readonly files: readonly string[];
  readonly loadedBytes: number;
  /** The packages whose code is in the statically loaded files. */
  readonly loadedPackages: readonly string[];
}

/**
 * Bundles a function into `outdir`: index.mjs, and chunks for what it imports only on first use
 * (the STS client of organization deployments, the SNS client of notices), so that a cold start
 * loads only what every invocation needs. esbuild is a development dependency: this runs in this
 * repository (the package build, synth from source, the bench), never in an installed package.
 */
export function bundleFunction(entry: string, outdir: string): BundleOutput {
  const { buildSync } = require('esbuild') as typeof import('esbuild');
  const { metafile } = buildSync({
    ...BUNDLE_OPTIONS,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    banner: { js: BUNDLE_OPTIONS.banner },
    alias: BUNDLE_ALIASES,
    entryPoints: { index: entry },
    // Adapters loaded on first use take their import() branch: chunks of their own.
    define: { AUTORETRY_BUNDLE: 'true' },
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    outdir,
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = metafile.outputs;
  const entryFile = Object.keys(outputs).find((f) => f.endsWith(`/${BUNDLE_FILE}`) || f === BUNDLE_FILE);
  const loaded = new Set<string>();
  const visit = (file: string) => {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const i of outputs[file]?.imports ?? []) if (i.kind === 'import-statement' && outputs[i.path]) visit(i.path);
  };
  if (entryFile) visit(entryFile);
  const packages = new Set<string>();
  for (const file of loaded) {
    for (const input of Object.keys(outputs[file]?.inputs ?? {})) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      if (m?.[1]) packages.add(m[1]);
    }
  }
  return {
    files: Object.keys(outputs),
    loadedBytes: [...loaded].reduce((n, f) => n + (outputs[f]?.bytes ?? 0), 0),
    loadedPackages: [...packages].sort(),
  };
}

/** The pre-built asset directory of a function, when the package build made one. */
export function prebuiltAsset(name: FunctionName): string | undefined {
  const dir = path.join(PACKAGE_ROOT, 'assets', FUNCTIONS[name].asset);
  return existsSync(path.join(dir, BUNDLE_FILE)) ? dir : undefined;
}
