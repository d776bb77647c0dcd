import { LocalAws, LogCapture, ManualClock } from '../../local/local-aws';
import { errorLines, runCli } from '../support';

/**
 * `history` and `status` read what the real handler wrote: failures are played through the
 * handler against dynalite and the emulators, then the CLI is run as a subprocess on that table.
 */
const aws = new LocalAws();
const cli = (args: string[]) => runCli(args, { AWS_ENDPOINT_URL_DYNAMODB: aws.dynamo.endpoint, TABLE_NAME: aws.tableName });

let flaky: { pipeline: string; execution: string };
let exhausted: { pipeline: string; execution: string };
let waiting: { pipeline: string; execution: string };
let stuck: { pipeline: string; execution: string };

beforeAll(async () => {
  await aws.start();
  const policies = aws.policies();
  await aws.seed([{ scope: { kind: 'default' }, patch: { maxRetries: 1, cooldownSeconds: 0 } }]);
  const run = aws.handler({ sink: new LogCapture().sink });

  // A stage retried once, which then succeeded.
  const a = aws.pipeline('flaky');
  flaky = { pipeline: a, execution: aws.codepipeline.failNewExecution(a, 'Test', ['UnitTests']) };
  await run(aws.codepipeline.stageFailedEvent(a, 'Test'));
  aws.codepipeline.finishRetry(a, 'Test', 'Succeeded');

  // A stage that failed again after its only retry.
  const b = aws.pipeline('broken');
  exhausted = { pipeline: b, execution: aws.codepipeline.failNewExecution(b, 'Deploy', ['ExecuteChangeSet']) };
  await run(aws.codepipeline.stageFailedEvent(b, 'Deploy'));
  aws.codepipeline.finishRetry(b, 'Deploy', 'Failed');
  await run(aws.codepipeline.stageFailedEvent(b, 'Deploy'));

  // A retry waiting for a 2-hour cooldown, and a paused pipeline.
  const c = aws.pipeline('slow');
  await policies.setPolicy({ kind: 'pipeline', pipeline: c }, { cooldownSeconds: 7200 }, 'test', new Date());
  waiting = { pipeline: c, execution: aws.codepipeline.failNewExecution(c, 'Test', ['UnitTests']) };
  await aws.handler({ sink: new LogCapture().sink, clock: new ManualClock(Date.now()).now })(aws.codepipeline.stageFailedEvent(c, 'Test'));
  await policies.pause('frozen-app', { updatedBy: 'bob', now: new Date() });

  // A claim whose holder died before recording anything, its lease long gone.
  const d = aws.pipeline('dead');
  const past = new Date(Date.now() - 3600_000);
  stuck = { pipeline: d, execution: aws.codepipeline.failNewExecution(d, 'Deploy', ['ExecuteChangeSet']) };
  await aws.ledgerStore().claim(
    { pipeline: d, stage: 'Deploy', executionId: stuck.execution },
    {
      occurrence: 1,
      status: 'retrying',
      retryMode: 'ALL_ACTIONS',
      dueAt: past,
      leaseUntil: new Date(past.getTime() + 120_000),
      token: 'dead-holder',
      fingerprint: 'x',
      maxRetries: 2,
      failedAt: past,
      now: new Date(),
    },
  );
});

afterAll(async () => {
  await aws.stop();
});

describe('CLI: autoretry history', () => {
  it('lists each attempt and each decision not to retry, newest first', async () => {
    // Act
    const result = await cli(['history', exhausted.pipeline, '--json']);

    // Assess
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows).toEqual([
      expect.objectContaining({ stage: 'Deploy', executionId: exhausted.execution, decision: 'skipped', outcome: 'max-retries' }),
      expect.objectContaining({ stage: 'Deploy', executionId: exhausted.execution, attempt: 1, decision: 'retried', outcome: 'retried' }),
    ]);
  });

  it('prints an aligned table with time, stage, execution, attempt, class, decision, outcome and reason', async () => {
    // Act
    const result = await cli(['history', flaky.pipeline]);

    // Assess
    const [header, row] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^TIME\s+STAGE\s+EXECUTION\s+ATTEMPT\s+CLASS\s+DECISION\s+OUTCOME\s+REASON$/);
    expect(row).toContain(flaky.execution.slice(0, 8));
    expect(row).toMatch(/Test\s+\w{8}\s+1\s+-\s+retried\s+retried\s+RetryStageExecution FAILED_ACTIONS/);
    expect(header?.indexOf('DECISION')).toBe(row?.indexOf('retried'));
    expect(result.stdout).not.toContain('\u001b[');
  });

  it('filters by execution and limits the rows', async () => {
    // Act
    const other = await cli(['history', exhausted.pipeline, '--execution', 'another-execution', '--json']);
    const limited = await cli(['history', exhausted.pipeline, '--limit', '1', '--json']);

    // Assess
    expect(JSON.parse(other.stdout)).toEqual([]);
    expect(JSON.parse(limited.stdout)).toHaveLength(1);
  });

  it('says plainly when it has no history for a pipeline', async () => {
    // Act
    const result = await cli(['history', 'no-such-pipeline']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(
      "no history for pipeline no-such-pipeline: unknown pipeline, or no failure handled within the ledger's retention",
    );
  });
});

describe('CLI: autoretry status', () => {
  it('shows paused pipelines, recent retries, exhausted stages and retries waiting in the delay queue', async () => {
    // Act
    const result = await cli(['status', '--json']);

    // Assess
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as {
      paused: { pipeline: string; updatedBy: string }[];
      retries: number;
      retriesByPipeline: Record<string, number>;
      exhausted: { pipeline: string; stage: string }[];
      waiting: { pipeline: string; stage: string; attempt: number }[];
      stuck: { pipeline: string; stage: string; status: string }[];
    };
    expect(status.paused).toEqual([expect.objectContaining({ pipeline: 'frozen-app', updatedBy: 'bob' })]);
    expect(status.retriesByPipeline).toEqual({ [flaky.pipeline]: 1, [exhausted.pipeline]: 1 });
    expect(status.retries).toBe(2);
    expect(status.exhausted).toEqual([expect.objectContaining({ pipeline: exhausted.pipeline, stage: 'Deploy' })]);
    expect(status.waiting).toEqual([expect.objectContaining({ pipeline: waiting.pipeline, stage: 'Test', attempt: 1 })]);
    expect(status.stuck).toEqual([expect.objectContaining({ pipeline: stuck.pipeline, stage: 'Deploy', status: 'retrying' })]);
  });

  it('prints the same for people', async () => {
    // Act
    const result = await cli(['status']);

    // Assess
    expect(result.code).toBe(0);
    expect(errorLines(result.stderr)).toEqual([]);
    expect(result.stdout).toContain('frozen-app  (by bob');
    expect(result.stdout).toContain('Retries in the last 24 h: 2');
    expect(result.stdout).toContain(`${exhausted.pipeline}/Deploy`);
    expect(result.stdout).toContain(`Waiting in the delay queue: 1`);
    expect(result.stdout).toContain(`Stuck (a holder's lease ran out without an outcome): 1`);
    expect(result.stdout).not.toContain('Class of the latest failure');
  });

  it('uses colour only when asked for or on a terminal', async () => {
    // Act
    const plain = await runCli(['status'], { AWS_ENDPOINT_URL_DYNAMODB: aws.dynamo.endpoint, TABLE_NAME: aws.tableName });
    const forced = await runCli(['status'], {
      AWS_ENDPOINT_URL_DYNAMODB: aws.dynamo.endpoint,
      TABLE_NAME: aws.tableName,
      NO_COLOR: undefined,
      FORCE_COLOR: '1',
    });

    // Assess
    expect(plain.stdout).not.toContain('\u001b[');
    expect(forced.stdout).toContain('\u001b[1m');
  });
});
