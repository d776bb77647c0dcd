import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoTable } from '../../lambda/adapters/dynamo-table';
import { PolicyAdmin } from '../../lambda/admin/policy-admin';
import { CloudFormationEmulator } from '../../local/cloudformation-emulator';
import { LocalDynamo } from '../../local/dynamo';
import { StsEmulator } from '../../local/sts-emulator';
import { type CliResult, errorLines, ROOT, runCli } from '../support';

const dynamo = new LocalDynamo();
const cloudformation = new CloudFormationEmulator();
const sts = new StsEmulator();
const TABLE = 'cli-table';

function autoretry(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    // Stack lookups go to the local CloudFormation, never to AWS.
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudformation.endpoint,
    TABLE_NAME: TABLE,
    // The audit identity comes from STS, served locally.
    AWS_ENDPOINT_URL_STS: sts.endpoint,
    ...env,
  });
}

const store = () => new PolicyAdmin(new DynamoTable(TABLE, dynamo.client()));

beforeAll(async () => {
  await Promise.all([dynamo.start(), cloudformation.start(), sts.start()]);
  await dynamo.createTable(TABLE);
});

afterAll(async () => {
  await Promise.all([dynamo.stop(), cloudformation.stop(), sts.stop()]);
});

describe('CLI: autoretry', () => {
  it('sets a pipeline policy and marks it operator-owned', async () => {
    // Act
    const result = await autoretry(['policy', 'set', 'web-app', '--max-retries', '3', '--cooldown', '5m']);

    // Assess
    expect(result).toEqual(expect.objectContaining({ code: 0 }));
    expect(result.stdout).toContain('set pipeline web-app: maxRetries=3, cooldown=5m');
    const items = await store().listPolicies();
    expect(items).toContainEqual(
      expect.objectContaining({
        scope: { kind: 'pipeline', pipeline: 'web-app' },
        patch: { maxRetries: 3, cooldownSeconds: 300 },
        source: 'cli',
        updatedBy: 'arn:aws:sts::123456789012:assumed-role/Operator/alice',
      }),
    );
  });

  it('sets a stage override and the default policy, with the table from --table', async () => {
    // Act
    const stage = await autoretry(['--table', TABLE, 'policy', 'set', 'web-app', '--stage', 'Deploy', '--retry-mode', 'ALL_ACTIONS'], {
      TABLE_NAME: undefined,
    });
    const dflt = await autoretry(['policy', 'set', '--default', '--max-retries', '1', '--cooldown', '45s']);

    // Assess
    expect([stage.code, dflt.code]).toEqual([0, 0]);
    const { layers } = await store().load('web-app', 'Deploy');
    expect(layers.stage).toEqual({ retryMode: 'ALL_ACTIONS' });
    expect(layers.default).toEqual({ maxRetries: 1, cooldownSeconds: 45 });
  });

  it('merges fields into an existing policy rather than replacing it', async () => {
    // Prepare
    await autoretry(['policy', 'set', 'merge-app', '--max-retries', '4']);

    // Act
    await autoretry(['policy', 'set', 'merge-app', '--cooldown', '2h']);

    // Assess
    const { layers } = await store().load('merge-app', 'Any');
    expect(layers.pipeline).toEqual({ maxRetries: 4, cooldownSeconds: 7200 });
  });

  it.each([
    ['a pipeline', ['pause-app'], 'pause-app', 'paused automatic retries of pause-app'],
    ['every pipeline with --all', ['--all'], 'any-pipeline', 'paused automatic retries of ALL pipelines'],
  ])('pauses and resumes %s', async (_case, target, probe, said) => {
    // Act
    const paused = await autoretry(['pause', ...target]);
    const whilePaused = await store().load(probe, 'Test');
    const resumed = await autoretry(['resume', ...target]);
    const afterResume = await store().load(probe, 'Test');

    // Assess
    expect([paused.code, resumed.code]).toEqual([0, 0]);
    expect(paused.stdout).toContain(said);
    expect(whilePaused.paused).toBe(true);
    expect(afterResume.paused).toBe(false);
  });

  it('shows the effective policy and where each field comes from', async () => {
    // Prepare
    await autoretry(['policy', 'set', 'get-app', '--max-retries', '5']);
    await autoretry(['policy', 'set', 'get-app', '--stage', 'Test', '--cooldown', '30s']);

    // Act
    const result = await autoretry(['policy', 'get', 'get-app', '--stage', 'Test', '--json']);

    // Assess
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.stdout) as { policy: Record<string, unknown>; sources: Record<string, unknown> };
    expect(shown.policy).toEqual(expect.objectContaining({ maxRetries: 5, cooldownSeconds: 30 }));
    expect(shown.sources).toEqual(expect.objectContaining({ maxRetries: 'pipeline', cooldownSeconds: 'stage' }));
  });

  it.each([
    [['policy', 'set', 'web-app', '--max-retries', '-1'], '--max-retries must be an integer from 0 to 10, got -1'],
    [['policy', 'set', 'web-app', '--max-retries', '11'], '--max-retries must be an integer from 0 to 10, got 11'],
    [['policy', 'set', 'web-app', '--max-retries', 'three'], '--max-retries must be an integer from 0 to 10, got "three"'],
    [['policy', 'set', 'web-app', '--cooldown', '5 minutes'], '--cooldown must be a duration'],
    [['policy', 'set', 'web-app', '--cooldown', '13h'], '--cooldown must be a duration from 0 to 12h'],
    [['policy', 'set', 'web-app', '--retry-mode', 'SOME'], "argument 'SOME' is invalid"],
    [['policy', 'set', 'web-app', '--colour', 'red'], "unknown option '--colour'"],
    [['policy', 'set', 'web-app'], 'nothing to set'],
    [['policy', 'set', 'web/app', '--max-retries', '1'], 'pipeline "web/app" is not a valid CodePipeline name'],
    [['policy', 'set', '--default', 'web-app', '--max-retries', '1'], 'either --default or a pipeline'],
    [['policy', 'set', '--default', '--stage', 'Test', '--max-retries', '1'], '--stage cannot be used with --default'],
    [['policy', 'set', '--max-retries', '1'], 'missing pipeline'],
    [['pause'], 'missing pipeline: autoretry pause <pipeline> or --all'],
    [['policy', 'set', 'web-app', '--retry-on', 'timed out'], '--retry-on must be JSON: a rule object or a list of them, got "timed out"'],
    [
      ['policy', 'set', 'web-app', '--retry-on', '[{"message":"timed out|("}]'],
      '--retry-on[0].message is not a valid regular expression: "timed out|("',
    ],
    [['policy', 'set', 'web-app', '--never-retry-on', '{"colour":"red"}'], '--never-retry-on[0].colour is not a rule field'],
    [['policy', 'set', 'web-app', '--retry-on', '{"class":"flaky"}'], '--retry-on[0].class has "flaky", which is not a failure class'],
    [['policy', 'set', 'web-app', '--never-retry-on', 'transient'], '--never-retry-on cannot be "transient": the preset is for retryOn'],
    [['policy', 'explain', 'web-app', '--stage', 'Test', '--class', 'flaky'], "argument 'flaky' is invalid"],
    [['policy', 'explain', 'web-app', '--stage', 'Test', '--evidence', 'pull failed'], '--evidence needs --class'],
    [['policy', 'set', 'web-app', '--budget', '10'], '--budget must be <retries>/<window>, such as 10/1h, got "10"'],
    [['policy', 'set', 'web-app', '--budget', '10/10s'], '--budget.window must be a duration from 1m to 7d, got "10s"'],
    [['policy', 'set', 'web-app', '--stage', 'Test', '--budget', '10/1h'], '--budget is per pipeline: set it without --stage'],
    [['policy', 'set', 'web-app', '--backoff', '0'], '--backoff must be a number from 1 to 10, got 0'],
    [['policy', 'set', 'web-app', '--max-retry-window', '8d'], '--max-retry-window must be a duration from 0 to 7d'],
    [
      ['policy', 'set', 'web-app', '--override-built-ins', 'everything'],
      '--override-built-ins must be a list of approval-rejected, stage-stopped',
    ],
    [['policy', 'set', 'web-app', '--jitter', 'some'], "argument 'some' is invalid"],
    [['policy', 'explain', 'web-app'], "required option '--stage <stage>' not specified"],
    [['report', '--since', 'forever'], '--since must be a duration from 1s to 366d, such as 24h or 7d, got "forever"'],
    [['report', '--json', '--csv'], 'give --json or --csv, not both'],
    [['pause', 'web-app', '--all'], 'give either a pipeline or --all, not both'],
    [['policy', 'set', 'web-app', '--mode', 'dry-run'], "argument 'dry-run' is invalid"],
    [['history', 'web-app', '--limit', '0'], '--limit must be a whole number from 1 to 1000, got "0"'],
    [['history'], "missing required argument 'pipeline'"],
    [['status', '--since', '1h'], "unknown option '--since'"],
    [['simulate', '--scenario', 'nope'], '--scenario: no scenario "nope"'],
    [['simulate', '--stage', 'Build'], '--stage must be one of Source, Test, Approve, Deploy'],
    [['simulate', '--config', '/nonexistent/cdk.json'], '--config: no such file /nonexistent/cdk.json'],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['polcy', 'list'], "unknown command 'polcy'"],
    [['policy', 'set', 'web-app', '--max-retrys', '1'], "unknown option '--max-retrys'"],
    [['policy', 'set', 'web-app', '--retry-on', '[{"message":"(a+)+$"}]'], '--retry-on[0].message "(a+)+$" can backtrack catastrophically'],
    [
      ['policy', 'set', 'web-app', '--retry-on', JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ code: `E${i}` })))],
      '--retry-on has 3000 rules; at most 20',
    ],
    [['--table', 'bad name!', 'status'], '--table must be a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -), got "bad name!"'],
    [['policy', 'set', 'web-app', '--cooldown', '12h', '--max-cooldown', '1s'], '--cooldown (12h) is longer than --max-cooldown (1s)'],
  ])('rejects %j with one line, exit code 2, and writes nothing', async (args, message) => {
    // Prepare
    const before = await store().listPolicies();

    // Act
    const result = await autoretry(args);

    // Assess
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(errorLines(result.stderr)).toHaveLength(1);
    expect(lines[0]).toContain(message);
    expect(result.stdout).toBe('');
    expect(await store().listPolicies()).toEqual(before);
  });

  it('says how to name the table when neither --table, TABLE_NAME nor a deployed stack gives one', async () => {
    // Act
    const result = await autoretry(['pause', 'web-app'], { TABLE_NAME: undefined });

    // Assess
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([
      'error: no table: pass --table <name> or set TABLE_NAME (looking up stack CodePipelineAutoRetry failed: ValidationError: Stack with id CodePipelineAutoRetry does not exist)',
    ]);
  });

  it('finds the table from the deployed stack’s output and says which stack it used', async () => {
    // Prepare
    cloudformation.putStack('TeamAutoRetry', { TableName: TABLE, RetryQueueUrl: 'https://sqs.local/q' });

    // Act
    const result = await autoretry(['--stack', 'TeamAutoRetry', 'pause', 'discovered-app'], { TABLE_NAME: undefined });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`using table ${TABLE} from stack TeamAutoRetry (output TableName)`);
    expect((await store().load('discovered-app', 'Test')).paused).toBe(true);
  });

  it('finds the table of the construct in a stack of your own, by its output’s description', async () => {
    // Prepare: the construct's output id carries its path and a hash, as CDK names it.
    cloudformation.putStack('PlatformStack', {
      AutoRetryTableName3F6A1C2B: { value: TABLE, description: 'codepipeline-auto-retry table (autoretry --table)' },
      SomethingElse: 'x',
    });

    // Act
    const result = await autoretry(['--stack', 'PlatformStack', 'pause', 'construct-app'], { TABLE_NAME: undefined });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`using table ${TABLE} from stack PlatformStack (output AutoRetryTableName3F6A1C2B)`);
    expect((await store().load('construct-app', 'Test')).paused).toBe(true);
  });

  it('asks which table when a stack holds two deployments', async () => {
    // Prepare
    const described = (value: string) => ({ value, description: 'codepipeline-auto-retry table (autoretry --table)' });
    cloudformation.putStack('TwoCopies', { ATableNameAAAA: described('table-a'), BTableNameBBBB: described('table-b') });

    // Act
    const result = await autoretry(['--stack', 'TwoCopies', 'status'], { TABLE_NAME: undefined });

    // Assess
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual(['error: stack TwoCopies holds 2 auto-retry tables (table-a, table-b); pass --table <name>']);
  });

  it('sets failure filters, backoff, a retry window and a budget', async () => {
    // Act
    const result = await autoretry([
      'policy',
      'set',
      'rules-app',
      '--cooldown',
      '1m',
      '--backoff',
      '2',
      '--max-cooldown',
      '10m',
      '--jitter',
      'full',
      '--max-retry-window',
      '2h',
      '--retry-on',
      '[{"category":"Test","provider":"CodeBuild","message":"timed out|ECONNRESET"}]',
      '--never-retry-on',
      '{"code":"JobFailed","message":"AccessDenied"}',
      '--count-manual-retries',
      'true',
      '--budget',
      '10/1h',
      '--override-built-ins',
      'stage-stopped',
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('budget=10/1h');
    expect((await store().load('rules-app', 'Test')).layers.pipeline).toEqual({
      cooldownSeconds: 60,
      backoff: 2,
      maxCooldownSeconds: 600,
      jitter: 'full',
      maxRetryWindowSeconds: 7200,
      retryOn: [{ category: ['Test'], provider: ['CodeBuild'], message: 'timed out|ECONNRESET' }],
      neverRetryOn: [{ code: ['JobFailed'], message: 'AccessDenied' }],
      countManualRetries: true,
      budget: { maxRetries: 10, windowSeconds: 3600 },
      overrideBuiltIns: ['stage-stopped'],
    });
  });

  it.each([
    [['--code', 'JobFailed', '--message', 'Build timed out after 30m', '--category', 'Test'], 'retry', 'retryOn[0] of the pipeline policy'],
    [['--code', 'JobFailed', '--message', 'AccessDenied on s3', '--category', 'Test'], 'skip', 'neverRetryOn[0] of the pipeline policy'],
    [
      ['--code', 'JobFailed', '--message', 'compile error', '--category', 'Test'],
      'skip',
      'retryOn of the pipeline policy (no rule matches)',
    ],
    [
      ['--message', 'Rejected', '--category', 'Approval', '--provider', 'Manual'],
      'skip',
      'built-in rule: rejected approvals are never retried',
    ],
  ])('explains what would happen to a failure: %j', async (flags, decision, decidedBy) => {
    // Prepare
    await autoretry([
      'policy',
      'set',
      'explain-app',
      '--retry-on',
      '[{"category":"Test","message":"timed out"}]',
      '--never-retry-on',
      '[{"message":"AccessDenied"}]',
    ]);

    // Act
    const result = await autoretry(['policy', 'explain', 'explain-app', '--stage', 'Test', ...flags, '--json']);

    // Assess
    expect(result.code).toBe(0);
    const explanation = JSON.parse(result.stdout) as { decision: string; decidedBy: string };
    expect(explanation.decision).toBe(decision);
    expect(explanation.decidedBy).toContain(decidedBy);
  });

  it('sets class rules: the transient preset and a rule on classes, and shows them as written', async () => {
    // Act
    const preset = await autoretry(['policy', 'set', 'class-app', '--retry-on', 'transient']);
    const stage = await autoretry(['policy', 'set', 'class-app', '--stage', 'Deploy', '--retry-on', '{"class":["timeout"]}']);

    // Assess
    expect(preset.stdout).toContain('set pipeline class-app: retryOn=transient');
    expect(stage.stdout).toContain('set stage class-app/Deploy: retryOn=[{"class":"timeout"}]');
    const stored = await store().load('class-app', 'Deploy');
    expect(stored.layers.pipeline).toEqual({ retryOn: [{ class: ['infrastructure', 'timeout', 'throttled'] }] });
    expect(stored.layers.stage).toEqual({ retryOn: [{ class: ['timeout'] }] });
    expect(stored.problems).toEqual([]);
  });

  it('explains a classified failure: the class rule that decides, the class and its evidence', async () => {
    // Prepare
    await autoretry(['policy', 'set', 'class-explain-app', '--retry-on', 'transient']);
    const evidence = 'CodeBuild build web-app:1b2c3d4e… failed in PROVISIONING: BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE';

    // Act
    const retried = await autoretry([
      'policy',
      'explain',
      'class-explain-app',
      '--stage',
      'Build',
      '--class',
      'infrastructure',
      '--evidence',
      evidence,
    ]);
    const left = await autoretry(['policy', 'explain', 'class-explain-app', '--stage', 'Test', '--class', 'test']);

    // Assess
    expect(retried.code).toBe(0);
    expect(retried.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^class-explain-app\/Build: would retry .*allowed by retryOn\[0\]/),
      '  decided by: retryOn[0] "transient" (class infrastructure, timeout, throttled) of the pipeline policy',
      `  class: infrastructure (${evidence})`,
    ]);
    expect(left.stdout).toContain(
      'would NOT retry — no-retry-rule-match: no retryOn rule matches the failure of CodeBuild Build action (class test',
    );
  });

  it('sets observe-only mode on a policy', async () => {
    // Act
    const result = await autoretry(['policy', 'set', 'rollout-app', '--mode', 'observe']);

    // Assess
    expect(result.code).toBe(0);
    expect((await store().load('rollout-app', 'Test')).layers.pipeline).toEqual({ mode: 'observe' });
  });

  it('says plainly when policy get is asked about a pipeline it knows nothing of', async () => {
    // Act
    const result = await autoretry(['policy', 'get', 'never-heard-of-it']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('note: pipeline never-heard-of-it has no policy of its own and no retry history in this table');
    expect(result.stdout).toMatch(/maxRetries\s+\d+\s+(default|built-in)/);
  });

  it.each([
    [['--help']],
    [['policy', 'set', '--help']],
    [['policy', 'get', '--help']],
    [['policy', 'list', '--help']],
    [['policy', 'delete', '--help']],
    [['history', '--help']],
    [['status', '--help']],
    [['pause', '--help']],
    [['resume', '--help']],
    [['simulate', '--help']],
    [['policy', 'explain', '--help']],
    [['report', '--help']],
  ])('prints help with an example for %j', async (args) => {
    // Act
    const result = await autoretry(args);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Examples?:\n\s+(npx )?autoretry /);
  });

  it('reports an unreachable DynamoDB in one line with exit code 1', async () => {
    // Act
    const result = await autoretry(['pause', 'web-app'], { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' });

    // Assess
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toHaveLength(1);
    expect(errorLines(result.stderr)[0]).toMatch(/^error: cannot reach DynamoDB at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
  });

  it('names a table that does not exist, with exit code 1', async () => {
    // Act
    const result = await autoretry(['policy', 'list'], { TABLE_NAME: 'no-such-table' });

    // Assess
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([
      `error: table no-such-table does not exist at ${dynamo.endpoint}; pass --table <name>, set TABLE_NAME, or deploy the stack`,
    ]);
  });

  it('reports an unreachable CloudFormation, looking for the table, as a fault and not as bad input', async () => {
    // Act
    const result = await autoretry(['status'], {
      TABLE_NAME: undefined,
      AWS_ENDPOINT_URL_CLOUDFORMATION: 'http://127.0.0.1:9',
      AWS_MAX_ATTEMPTS: '1',
    });

    // Assess
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([
      "error: cannot reach CloudFormation at http://127.0.0.1:9 (ECONNREFUSED) to find stack CodePipelineAutoRetry's TableName output; pass --table <name> or set TABLE_NAME",
    ]);
  });

  it('lists every problem of a configuration, one line each', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'autoretry-config-'));
    const config = join(dir, 'cdk.json');
    writeFileSync(config, JSON.stringify({ context: { autoRetry: { default: { maxRetries: 99, cooldown: 'soon' } } } }));

    // Act
    const result = await autoretry(['policy', 'import', '--config', config]);

    // Assess
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([
      'error: autoRetry.default.maxRetries must be an integer from 0 to 10, got 99',
      'error: autoRetry.default.cooldown must be a duration from 0 to 12h (0, 45s, 5m, 2h or whole seconds), got "soon"',
    ]);
  });

  it('says a pipeline that was not paused has nothing to resume', async () => {
    // Act
    const result = await autoretry(['resume', 'never-paused-app']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('never-paused-app was not paused: nothing to resume');
  });

  it('runs as `npx autoretry` from the project', async () => {
    // Act
    const { stdout } = await promisify(execFile)('npx', ['--no-install', 'autoretry', 'policy', 'set', '--help'], { cwd: ROOT });

    // Assess
    expect(stdout).toContain('autoretry policy set web-app --budget 10/1h');
  });
});

/** Starts `autoretry sandbox` with these arguments; resolves with its export lines once it is ready. */
async function startSandbox(args: string[]): Promise<{ child: ReturnType<typeof spawn>; env: Record<string, string>; out: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'cli', 'autoretry.js'), 'sandbox', ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ctrl-C')) resolve();
    });
    child.on('exit', () => reject(new Error(`sandbox exited: ${out}`)));
  });
  const env = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  return { child, env, out };
}

/** Stops a sandbox as Ctrl-C does; resolves with its exit code. */
async function stopSandbox(child: ReturnType<typeof spawn>): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  return exited;
}

describe('CLI: the package and the sandbox', () => {
  it('prints its version', async () => {
    // Act
    const result = await autoretry(['--version']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('imports a cdk.json as a deploy would: a dry run writes nothing, then the import keeps operators’ items', async () => {
    // Prepare: an operator owns one pipeline's policy already.
    const dir = mkdtempSync(join(tmpdir(), 'autoretry-import-'));
    const config = join(dir, 'cdk.json');
    writeFileSync(
      config,
      JSON.stringify({ context: { autoRetry: { pipelines: { 'import-a': { maxRetries: 3 }, 'import-b': { cooldown: '5m' } } } } }),
    );
    await autoretry(['policy', 'set', 'import-b', '--max-retries', '1']);
    const before = await store().listPolicies();

    // Act
    const dry = await autoretry(['policy', 'import', '--config', config, '--dry-run']);
    const afterDry = await store().listPolicies();
    const real = await autoretry(['policy', 'import', '--config', config]);

    // Assess
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('+ pipeline import-a: maxRetries=3');
    expect(dry.stdout).toContain('= pipeline import-b: kept as an operator set it (maxRetries=1)');
    expect(dry.stdout).toContain('dry run: nothing written');
    expect(afterDry).toEqual(before);
    expect(real.stdout).toContain('imported: 1 written, 1 kept as operators changed them, 0 removed');
    const after = await store().listPolicies();
    expect(after).toContainEqual(expect.objectContaining({ scope: { kind: 'pipeline', pipeline: 'import-a' }, source: 'config' }));
    expect(after).toContainEqual(expect.objectContaining({ scope: { kind: 'pipeline', pipeline: 'import-b' }, patch: { maxRetries: 1 } }));
  });

  it('shows a dry run of an import as a first deploy when there is no table to compare with', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'autoretry-import-'));
    const config = join(dir, 'cdk.json');
    writeFileSync(config, JSON.stringify({ context: { autoRetry: { pipelines: { 'first-app': { maxRetries: 3 } } } } }));

    // Act
    const dry = await autoretry(['policy', 'import', '--config', config, '--dry-run'], { TABLE_NAME: 'no-such-table' });

    // Assess
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('+ pipeline first-app: maxRetries=3');
    expect(dry.stdout).toContain('dry run: nothing written');
    expect(dry.stderr).toContain('note: no table to compare with');
  });

  it('starts a sandbox the CLI can be pointed at, with the configuration’s policies loaded', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'autoretry-sandbox-'));
    const config = join(dir, 'cdk.json');
    writeFileSync(config, JSON.stringify({ context: { autoRetry: { default: { maxRetries: 4 } } } }));
    const { child, env } = await startSandbox(['--config', config]);

    // Act
    const list = await runCli(['policy', 'list', '--json'], env);
    const exitCode = await stopSandbox(child);

    // Assess
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(['TABLE_NAME', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_STS', 'AWS_REGION']),
    );
    expect(list.code).toBe(0);
    expect(list.stderr).not.toContain('ENOTFOUND');
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ scope: { kind: 'default' }, patch: { maxRetries: 4 } })]);
    expect(exitCode).toBe(0);
  });

  it('plays scripted failures into a sandbox, so history and report show them', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'autoretry-sandbox-'));
    const config = join(dir, 'cdk.json');
    writeFileSync(config, JSON.stringify({ context: { autoRetry: { default: { maxRetries: 2 } } } }));
    const { child, env, out } = await startSandbox(['--config', config, '--play', 'flaky-build,exhausted']);

    // Act
    const history = await runCli(['history', 'web-app'], env);
    const report = await runCli(['report', '--json'], env);
    const exitCode = await stopSandbox(child);

    // Assess
    expect(out).toContain('# played flaky-build: web-app/Test, 2 retries, recovered');
    expect(out).toContain('# played exhausted: api/Test, 2 retries, exhausted');
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/retried/);
    const rows = JSON.parse(report.stdout) as { pipeline: string; retries: number }[];
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pipeline: 'web-app', retries: 2 }),
        expect.objectContaining({ pipeline: 'api', retries: 2 }),
      ]),
    );
    expect(exitCode).toBe(0);
  });

  it('refuses a scenario it does not know before starting anything', async () => {
    // Act
    const result = await autoretry(['sandbox', '--play', 'nope']);

    // Assess
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/^error: --play: no scenario "nope"; one of flaky-build, /)]);
  });
});
