/**
 * npm run test:jsii-runtime — the package as another language loads it, short of the language:
 * drives @jsii/runtime (the Node.js process that every jsii binding talks to; Python's `jsii`
 * package embeds this same bundle) over its stdin/stdout protocol, as the Python binding does.
 * Loads the assemblies from their npm tarballs (ours packed, with its bundled dependencies),
 * builds App > Stack > PipelineAutoRetry with an enum, a Duration and nested maps in its props,
 * synthesizes, checks the template, and checks a bad prop comes back as the construct's error
 * annotation (what `cdk synth` prints as one line before it fails).
 * Needs the npm registry for the tarballs (aws-cdk-lib's is about 40 MB); no Python.
 */
import { type ChildProcessByStdio, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

const ROOT = join(__dirname, '..');
const WORK = mkdtempSync(join(tmpdir(), 'jsii-runtime-'));
type PackageJson = { name: string; version: string; dependencies?: Record<string, string> };
const CDK_LIB = join(ROOT, 'node_modules', 'aws-cdk-lib');
/** Where a package is installed: nested under `from` (a package directory), else hoisted. */
const packageDir = (name: string, from = ROOT): string =>
  [join(from, 'node_modules', name), join(ROOT, 'node_modules', name)].find((d) => existsSync(join(d, 'package.json'))) ?? name;
const packageJson = (name: string, from = ROOT): PackageJson =>
  JSON.parse(readFileSync(join(packageDir(name, from), 'package.json'), 'utf8')) as PackageJson;
const npmPack = (spec: string, cwd = WORK): string =>
  join(
    WORK,
    execFileSync('npm', ['pack', '--silent', '--pack-destination', WORK, spec], { cwd, encoding: 'utf8' }).trim().split('\n').pop() ?? '',
  );

type Answer = { ok?: { result?: unknown; [k: string]: unknown }; error?: string; stack?: string; callback?: unknown; hello?: string };

class Runtime {
  private readonly waiting: ((answer: Answer) => void)[] = [];
  public constructor(private readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    createInterface({ input: child.stdout }).on('line', (line) => this.waiting.shift()?.(JSON.parse(line) as Answer));
  }
  public next(): Promise<Answer> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  public async call(request: Record<string, unknown>): Promise<NonNullable<Answer['ok']>> {
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    const answer = await this.next();
    if (answer.error !== undefined) throw new Error(`${String(request.api)}: ${answer.error}`);
    if (answer.ok === undefined) throw new Error(`${String(request.api)}: unexpected answer ${JSON.stringify(answer)}`);
    return answer.ok;
  }
}

async function main(): Promise<void> {
  const runtimeVersion = packageJson('jsii-pacmak').version; // the Python package pacmak makes requires jsii>=this
  execFileSync('tar', ['-xzf', npmPack(`@jsii/runtime@${runtimeVersion}`), '-C', WORK]);
  // constructs, aws-cdk-lib's own jsii dependencies, aws-cdk-lib, then this package, each from its tarball.
  const cdkJsiiDeps = Object.keys(packageJson('aws-cdk-lib').dependencies ?? {}).filter((d) =>
    existsSync(join(packageDir(d, CDK_LIB), '.jsii')),
  );
  const assemblies: [string, string, string][] = [];
  for (const p of [packageJson('constructs'), ...cdkJsiiDeps.map((d) => packageJson(d, CDK_LIB)), packageJson('aws-cdk-lib')]) {
    assemblies.push([p.name, p.version, npmPack(`${p.name}@${p.version}`)]);
  }
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  assemblies.push([own.name, own.version, npmPack(ROOT, ROOT)]);

  const env = { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' };
  const child = spawn(process.execPath, [join(WORK, 'package', 'webpack', 'bin', 'jsii-runtime.js')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env,
  });
  const rt = new Runtime(child);
  try {
    const hello = await rt.next();
    process.stdout.write(`runtime: ${hello.hello}\n`);
    for (const [name, version, tarball] of assemblies) await rt.call({ api: 'load', name, version, tarball });
    process.stdout.write(`loaded: ${assemblies.map(([n, v]) => `${n}@${v}`).join(', ')}\n`);
    const outdir = join(WORK, 'cdk.out');
    const app = await rt.call({ api: 'create', fqn: 'aws-cdk-lib.App', args: [{ outdir }] });
    const stack = await rt.call({
      api: 'create',
      fqn: 'aws-cdk-lib.Stack',
      args: [app, 'Polyglot', { env: { account: '123456789012', region: 'eu-west-1' } }],
    });
    const minute = await rt.call({ api: 'sinvoke', fqn: 'aws-cdk-lib.Duration', method: 'minutes', args: [1] });
    const enumRef = (type: string, member: string) => ({ '$jsii.enum': `codepipeline-auto-retry.${type}/${member}` });
    await rt.call({
      api: 'create',
      fqn: 'codepipeline-auto-retry.PipelineAutoRetry',
      args: [
        stack,
        'AutoRetry',
        {
          watchedPipelines: ['web-app'],
          defaultPolicy: { maxRetries: 2, cooldown: minute.result, jitter: enumRef('RetryJitter', 'SPREAD') },
          pipelines: {
            '$jsii.map': { 'web-app': { stages: { '$jsii.map': { Deploy: { retryMode: enumRef('StageRetryMode', 'ALL_ACTIONS') } } } } },
          },
        },
      ],
    });
    await rt.call({ api: 'invoke', objref: app, method: 'synth', args: [] });
    const template = JSON.parse(readFileSync(join(outdir, 'Polyglot.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties?: { Handler?: string } }>;
    };
    const handlers = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => r.Properties?.Handler);
    const prebuilt = readdirSync(outdir).filter((d) => d.startsWith('asset.') && existsSync(join(outdir, d, 'index.mjs')));
    if (!handlers.includes('index.handler') || !handlers.includes('index.onEvent') || prebuilt.length < 2) {
      throw new Error(`FAIL: handlers ${JSON.stringify(handlers)}, pre-built assets ${prebuilt.length}`);
    }
    process.stdout.write(`synth: ok (${handlers.length} functions, ${prebuilt.length} pre-built assets)\n`);
    // Bad props come back as the construct's error annotation, the line `cdk synth` prints before it fails.
    const badOut = join(WORK, 'cdk.bad');
    const badApp = await rt.call({ api: 'create', fqn: 'aws-cdk-lib.App', args: [{ outdir: badOut }] });
    const badStack = await rt.call({ api: 'create', fqn: 'aws-cdk-lib.Stack', args: [badApp, 'BadStack'] });
    await rt.call({
      api: 'create',
      fqn: 'codepipeline-auto-retry.PipelineAutoRetry',
      args: [badStack, 'Bad', { defaultPolicy: { maxRetries: 99 } }],
    });
    await rt.call({ api: 'invoke', objref: badApp, method: 'synth', args: [] });
    // The cloud assembly keeps construct metadata in manifest.json or in a file beside it (newer schemas).
    type Entry = { type?: string; data?: unknown };
    const entries = (node: unknown): Entry[] =>
      Array.isArray(node)
        ? node.flatMap(entries)
        : typeof node === 'object' && node !== null
          ? [...((node as Entry).type === 'aws:cdk:error' ? [node as Entry] : []), ...Object.values(node).flatMap(entries)]
          : [];
    const errors = readdirSync(badOut)
      .filter((f) => f.endsWith('.json') && !f.endsWith('.template.json'))
      .flatMap((f) => entries(JSON.parse(readFileSync(join(badOut, f), 'utf8'))));
    const bad = errors.map((m) => String(m.data));
    if (bad.length !== 1 || !bad[0]?.includes('props.defaultPolicy.maxRetries'))
      throw new Error(`FAIL: bad props gave ${JSON.stringify(bad)}`);
    process.stdout.write(`bad props: reported (${bad[0]})\n`);
    process.stdout.write('jsii runtime test: ok\n');
  } finally {
    child.stdin.end();
    child.kill();
  }
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(() => rmSync(WORK, { recursive: true, force: true }));
