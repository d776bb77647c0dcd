/**
 * Test helpers, in one module: event fixtures, the local services per test file, the CLI as a
 * subprocess, and ledger keys. In-memory fakes of the service's ports are in ./fakes.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import type { LedgerKey } from '../../lambda/domain/ledger';
import type { FaultProxy, ProxiedCall } from '../../local/fault-proxy';
import { LocalAws } from '../../local/local-aws';
import type { PolicyPatch } from '../../policy/policy';

export const ROOT = join(__dirname, '..', '..');

// ---- fixtures ----------------------------------------------------------------------------------

const EVENTS = join(__dirname, '..', 'fixtures', 'events');

/** A fresh copy of a fixture event, safe to mutate in one test. */
export function loadEvent(name: string): Record<string, unknown> & { detail: Record<string, unknown> } {
  return structuredClone(JSON.parse(readFileSync(join(EVENTS, `${name}.json`), 'utf8')));
}

export const ledgerKey = (pipeline: string, stage: string, executionId: string): LedgerKey => ({ pipeline, stage, executionId });

/**
 * The timeout of a test that plays hundreds of failures through the real handler and services:
 * about 20 s on an idle 2-core machine, so a few times that on a busy one.
 */
export const HEAVY_TEST_TIMEOUT_MS = 150_000;

// ---- local services ----------------------------------------------------------------------------

/**
 * The local services for one test file: started before its tests (with the default policy
 * seeded, if given) and stopped after them.
 */
export function useLocalAws(defaultPolicy?: PolicyPatch): LocalAws {
  const aws = new LocalAws();
  beforeAll(async () => {
    await aws.start();
    if (defaultPolicy) await aws.seed([{ scope: { kind: 'default' }, patch: defaultPolicy }]);
  });
  afterAll(async () => {
    await aws.stop();
  });
  return aws;
}

/** A seeded generator (mulberry32): the same numbers in the same order on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A delay-queue record as Lambda's SQS event source hands it over. */
export function sqsRecord(body: string, messageId: string, queueArn: string): SQSRecord {
  return {
    messageId,
    receiptHandle: 'r',
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

/**
 * The fault proxy between the function and its own DynamoDB and SQS, for a test file: in place
 * before its tests, cleared (rules, records, hooks) before each.
 */
/** A DynamoDB client whose every call goes through the fault proxy in front of the local table. */
export function proxiedDynamoClient(proxy: Pick<FaultProxy, 'endpoint'>): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: proxy.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

export function useOwnFaults(aws: LocalAws): () => Promise<FaultProxy> {
  beforeAll(async () => {
    await aws.ownFaults();
  });
  beforeEach(async () => {
    (await aws.ownFaults()).clear();
    aws.sqs.reset();
  });
  return () => aws.ownFaults();
}

/** The UpdateItem calls whose expression contains `text`: how tests pick one kind of ledger write. */
export const updateContaining =
  (text: string) =>
  (call: ProxiedCall): boolean =>
    call.operation === 'UpdateItem' && String(call.input.UpdateExpression).includes(text);

/** The event a scheduled rule sends the function: the reconciler's every-few-minutes wake-up. */
export function scheduledEvent(at: Date): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/codepipeline-auto-retry-reconcile'],
    detail: {},
  };
}

export interface KillPoint {
  /** The proxy the process's DynamoDB and SQS calls go through (LocalAws.ownFaults()). */
  readonly proxy: FaultProxy;
  /** Kill the process when it is about to make the first call that matches: the call never happens. */
  readonly killBefore?: (call: ProxiedCall) => boolean;
  /** Kill the process right after the first call that matches took effect: its answer never arrives. */
  readonly killAfter?: (call: ProxiedCall) => boolean;
  /** The process's clock, epoch milliseconds. */
  readonly now: number;
}

/**
 * Runs the production handler on `event` in a child process, as a Lambda sandbox would, and kills
 * it (SIGKILL) at the chosen step. Resolves with how the process ended.
 */
export async function runHandlerProcess(event: unknown, kill: KillPoint): Promise<{ signal: NodeJS.Signals | null; code: number | null }> {
  const { proxy } = kill;
  const child = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', join(__dirname, 'handler-process.ts'), JSON.stringify(event), String(kill.now)],
    // A child that never reaches its kill point is stopped (SIGTERM, so the test tells the two apart).
    { cwd: ROOT, env: process.env, stdio: 'ignore', timeout: 60_000, killSignal: 'SIGTERM' },
  );
  let killed = false;
  const killNow = () => {
    killed = true;
    child.kill('SIGKILL');
    return 'drop' as const;
  };
  proxy.beforeCall = (call) => (!killed && kill.killBefore?.(call) ? killNow() : undefined);
  proxy.afterApply = (call) => (!killed && kill.killAfter?.(call) ? killNow() : undefined);
  try {
    return await new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  } finally {
    proxy.beforeCall = undefined;
    proxy.afterApply = undefined;
  }
}

// ---- the CLI -----------------------------------------------------------------------------------

const run = promisify(execFile);
const CLI_TIMEOUT_MS = 60_000;
const LAUNCHER = join(ROOT, 'cli', 'autoretry.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `autoretry` as a subprocess, the way an operator does; `undefined` in env removes a variable. */
export async function runCli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    // No AWS identity unless a test serves one: a closed port answers at once.
    AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9',
    NO_COLOR: '1',
    ...env,
  };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  try {
    const { stdout, stderr } = await run(process.execPath, [LAUNCHER, ...args], {
      cwd: ROOT,
      env: childEnv,
      maxBuffer: 16 * 1024 * 1024,
      // A CLI that hangs is killed, and its test fails with what it printed, instead of waiting for the file's limit.
      timeout: CLI_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The `error: …` lines of stderr. */
export const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('error:'));
