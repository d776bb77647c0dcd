/**
 * Test helpers, in one module: event fixtures, the local services per test file, the CLI as a
 * subprocess, and ledger keys. In-memory fakes of the service's ports are in ./fakes.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LedgerKey } from '../../lambda/domain/ledger';
import type { PolicyPatch } from '../../lambda/domain/policy';
import { LocalAws } from '../../local/local-aws';

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
