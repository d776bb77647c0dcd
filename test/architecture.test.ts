import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildSync } from 'esbuild';
import { bundleFunction } from '../lib/bundling';
import { ROOT } from './support';

/**
 * The dependency direction the layout promises: two kernels, `contract` (names both sides agree
 * on) and `policy` (the policy language), that everything may use; bin → lib, cli → lambda's
 * adapters, local → lambda; inside the function domain ← service → ports ← adapters. Read from
 * the import statements of the sources.
 */

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(ROOT, dir, name);
    if (statSync(path).isDirectory()) return sources(join(dir, name));
    return name.endsWith('.ts') ? [join(dir, name)] : [];
  });
}

/** Every module a file imports at run time or for types, as a repository path or a package name. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'/g),
    ...text.matchAll(/require\('([^']+)'\)/g),
  ].map((m) => m[1] as string);
  return specifiers.map((s) => (s.startsWith('.') ? relative(ROOT, join(ROOT, file, '..', s)) : s));
}

const within = (path: string, ...dirs: string[]) => dirs.some((d) => path === d || path.startsWith(`${d}/`));
const isPackage = (path: string) => !/^(contract|policy|lambda|lib|cli|local|bin|test|scripts)(\/|$)/.test(path);

describe('Architecture: who may import what', () => {
  it.each<[string, string, (target: string) => boolean]>([
    ['contract', 'imports nothing', () => false],
    ['policy', 'imports only itself, the contract and its regex checker', (t) => within(t, 'policy', 'contract') || t === 'safe-regex2'],
    [
      'lambda/domain',
      'imports only the domain, the kernels and Node built-ins',
      (t) => within(t, 'lambda/domain', 'policy', 'contract') || t.startsWith('node:'),
    ],
    ['lambda/ports.ts', 'imports only the domain and the kernels', (t) => within(t, 'lambda/domain', 'policy', 'contract')],
    [
      'lambda/service',
      'imports only the domain, the ports, itself and the kernels',
      (t) => within(t, 'lambda/domain', 'lambda/ports', 'lambda/service', 'policy', 'contract'),
    ],
    [
      'lambda/adapters',
      'never imports the service or an entry point',
      (t) => !within(t, 'lambda/service', 'lambda/handler', 'lambda/dependencies', 'lambda/seed'),
    ],
    ['lambda', 'never imports the CLI, the stack or the local services', (t) => !within(t, 'cli', 'lib', 'local', 'bin')],
    [
      'lib',
      'imports only itself, the kernels and packages that are not SDK clients (never the function)',
      (t) =>
        within(t, 'lib', 'contract', 'policy') || (isPackage(t) && !t.startsWith('@aws-sdk/') && !t.startsWith('@aws-lambda-powertools/')),
    ],
    ['cli', 'never imports the stack (its operators need no aws-cdk-lib)', (t) => !within(t, 'lib', 'bin') && !t.startsWith('aws-cdk-lib')],
    ['local', 'never imports the CLI (the CLI uses the local services, not the other way)', (t) => !within(t, 'cli', 'bin')],
    ['lambda/domain/refs.ts', 'imports only the contract (the shapes of a pipeline somewhere)', (t) => within(t, 'contract')],
    [
      'lambda/adapters/table-names.ts',
      'imports only the domain and the contract (how this deployment keys its table)',
      (t) => within(t, 'lambda/domain', 'contract'),
    ],
    [
      'lambda/service/delivery.ts',
      'imports only the domain, the ports and the service (a delivery holds no adapter)',
      (t) => within(t, 'lambda/domain', 'lambda/ports', 'lambda/service'),
    ],
  ])('%s %s', (dir, _rule, allowed) => {
    // Prepare
    const files = dir.endsWith('.ts') ? [dir] : sources(dir);

    // Act
    const broken = files.flatMap((file) =>
      importsOf(file)
        .filter((t) => !allowed(t))
        .map((t) => `${file} → ${t}`),
    );

    // Assess
    expect(files.length).toBeGreaterThan(0);
    expect(broken).toEqual([]);
  });

  it('names pipelines in table keys in one place: only TableNames calls scopedPipeline in the function', () => {
    // Prepare
    const files = [...sources('lambda/service'), ...sources('lambda/adapters'), 'lambda/dependencies.ts', 'lambda/handler.ts'];

    // Act
    const naming = files.filter(
      (f) => f !== 'lambda/adapters/table-names.ts' && /\bscopedPipeline\(/.test(readFileSync(join(ROOT, f), 'utf8')),
    );

    // Assess
    expect(naming).toEqual([]);
  });

  it('synthesizes the construct without loading an AWS SDK client or Powertools', () => {
    // Act: load the package root in a fresh process, as `cdk synth` does, and list what it loaded.
    const loaded = execFileSync(
      process.execPath,
      ['-r', 'tsx/cjs', '-e', "require('./lib/index.ts'); console.log(JSON.stringify(Object.keys(require.cache)))"],
      { cwd: ROOT, encoding: 'utf8' },
    );

    // Assess
    const modules = JSON.parse(loaded) as string[];
    expect(modules.some((m) => m.includes('aws-cdk-lib'))).toBe(true);
    expect(modules.filter((m) => /@aws-sdk[\\/]|@aws-lambda-powertools[\\/]/.test(m))).toEqual([]);
  });

  it('loads the operator CLI without aws-cdk-lib, constructs or cdk-nag', () => {
    // Act: load the CLI's entry in a fresh process, as `autoretry` does, and list what it loaded.
    const loaded = execFileSync(
      process.execPath,
      ['-r', 'tsx/cjs', '-e', "require('./cli/main.ts'); console.log(JSON.stringify(Object.keys(require.cache)))"],
      { cwd: ROOT, encoding: 'utf8' },
    );

    // Assess
    const modules = JSON.parse(loaded) as string[];
    expect(modules.some((m) => m.includes(`${join('cli', 'main.ts')}`))).toBe(true);
    expect(modules.filter((m) => /node_modules[\\/](aws-cdk-lib|constructs|cdk-nag)[\\/]/.test(m))).toEqual([]);
  });

  it.each([
    ['the retry function', 'lambda/handler.ts'],
    ['the seed function', 'lambda/seed/handler.ts'],
  ])('bundles %s without CLI, stack or local-service code', (_name, entry) => {
    // Act
    const { metafile } = buildSync({
      entryPoints: [join(ROOT, entry)],
      bundle: true,
      platform: 'node',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });

    // Assess
    const inputs = Object.keys(metafile.inputs).filter((p) => !p.includes('node_modules'));
    expect(inputs.length).toBeGreaterThan(3);
    expect(inputs.filter((p) => /^(cli|lib|local|bin|test)\//.test(p))).toEqual([]);
  });

  it('loads the STS client (organizations), the SNS client (notices), the provider clients and the classifier (failure classes) only on first use, in chunks of their own', () => {
    // Act
    const dir = mkdtempSync(join(tmpdir(), 'arch-bundle-'));
    let output: ReturnType<typeof bundleFunction>;
    try {
      output = bundleFunction(join(ROOT, 'lambda/handler.ts'), dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // Assess: what a cold start loads has none of them; the bundle has them all, as chunks.
    const lazy = [
      '@aws-sdk/client-sts',
      '@aws-sdk/client-sns',
      '@aws-sdk/client-codebuild',
      '@aws-sdk/client-codedeploy',
      '@aws-sdk/client-cloudformation',
    ];
    expect(output.loadedPackages).toEqual(expect.arrayContaining(['@aws-sdk/client-codepipeline', '@aws-sdk/client-dynamodb']));
    expect(output.loadedPackages.filter((p) => lazy.includes(p))).toEqual([]);
    expect(
      output.files.filter((f) => /chunks\/(sts-assume-role|sns-publisher|provider-reader|failure-classes)-\w+\.mjs$/.test(f)),
    ).toHaveLength(4);
    // The classifier is a chunk too, so a deployment without class rules keeps the cold-start goal (380 KiB).
    expect(output.loadedBytes).toBeLessThanOrEqual(380 * 1024);
  });
});

describe('Architecture: what a construct user installs', () => {
  it('depends, at run time, on exactly the packages the construct imports: the CLI and the functions are bundled', () => {
    // Prepare
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      bundleDependencies?: string[];
    };
    const construct = ['contract', 'policy', 'lib'].flatMap((dir) => sources(dir));

    // Act
    const imported = new Set(
      construct
        .flatMap(importsOf)
        .filter((t) => isPackage(t) && !t.startsWith('node:'))
        .map((t) => (t.startsWith('@') ? t.split('/').slice(0, 2).join('/') : (t.split('/')[0] ?? t))),
    );
    const peers = Object.keys(pkg.peerDependencies ?? {});
    // esbuild is required only when the construct runs from this repository (synth from source).
    const needed = [...imported].filter((name) => !peers.includes(name) && name !== 'esbuild').sort();

    // Assess
    expect(Object.keys(pkg.dependencies ?? {}).sort()).toEqual(needed);
    expect([...(pkg.bundleDependencies ?? [])].sort()).toEqual(needed);
  });
});

describe('Architecture: files a reader can hold', () => {
  /** Source files allowed over the limit, each with its reason. Tests are not counted: they list cases. */
  const LONG_FILES: Readonly<Record<string, string>> = {
    'lib/pipeline-auto-retry.ts':
      "the construct: one constructor of short create… steps; moving them into child constructs would change deployed resources' logical ids",
    'lib/props.ts': 'every public prop with its TSDoc and @default: the API reference is read from it',
    'lambda/service/claim-handler.ts':
      'every move of a claim (take over, reschedule, finish) with its undo and how an unclear answer is settled: the token discipline in one place',
    'local/codepipeline/emulator.ts': "CodePipeline's wire protocol: one handler per operation, with its validation, exceptions and faults",
    'local/codepipeline/world.ts': 'the state rules of executions, stages, retries and onFailure, which the emulator serves',
    'scripts/bench/index.ts': 'the benchmark scenarios and the document they write, in one place',
  };
  const LIMIT = 300;

  it(`keeps every source file under ${LIMIT} lines, or says why not`, () => {
    // Prepare
    const files = ['contract', 'policy', 'lib', 'lambda', 'cli', 'local', 'bin', 'scripts'].flatMap((dir) => sources(dir));

    // Act
    const long = files.filter((file) => readFileSync(join(ROOT, file), 'utf8').split('\n').length > LIMIT);

    // Assess
    expect(long.filter((file) => !(file in LONG_FILES))).toEqual([]);
    expect(Object.keys(LONG_FILES).filter((file) => !long.includes(file))).toEqual([]);
  });
});
