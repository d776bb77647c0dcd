import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { SQSBatchResponse } from 'aws-lambda';
import fc from 'fast-check';
import { ClaimStatus } from '../../lambda/domain/ledger';
import { LogCapture, ManualClock } from '../../local/local-aws';
import { loadEvent, sqsRecord, useLocalAws } from '../support';
import { enoughRuns, propertyParameters, propertyTestTimeout } from '../support/properties';

const aws = useLocalAws({ maxRetries: 2, cooldownSeconds: 0 });
const ROOT = join(__dirname, '..', '..');

describe('Reliability: a crash between claiming and retrying', () => {
  it('completes the retry exactly once on redelivery, and counts the attempt once', async () => {
    // Prepare
    const pipeline = aws.pipeline('crash');
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test');

    // Act: the first instance dies (SIGKILL) right after its claim is written.
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--require', 'tsx/cjs', join(ROOT, 'test/support/crash-after-claim.ts'), JSON.stringify(event)],
        // A child that never reaches its crash point is stopped (SIGTERM, so the test tells the two apart).
        { cwd: ROOT, env: process.env, stdio: 'ignore', timeout: 60_000, killSignal: 'SIGTERM' },
      );
      child.on('exit', (_code, sig) => resolve(sig));
    });
    const afterCrash = await aws.ledger().getRecord({ pipeline, stage: 'Test', executionId: execution });
    const retriesAfterCrash = aws.codepipeline.acceptedRetries(pipeline).length;
    // Lambda redelivers the event a minute or more later, to another instance.
    const later = new ManualClock(Date.now() + 180_000);
    const run = aws.handler({ sink: new LogCapture().sink, clock: later.now });
    await run(event);
    await run(event);

    // Assess
    expect(signal).toBe('SIGKILL');
    expect(afterCrash?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retrying, attempt: 1 })]);
    expect(retriesAfterCrash).toBe(0);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const record = await aws.ledger().getRecord({ pipeline, stage: 'Test', executionId: execution });
    expect(record?.retries).toBe(1);
    expect(record?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried, attempt: 1 })]);
  });
});

describe('Reliability: bad input', () => {
  const validEvent = loadEvent('stage-failed');
  const detailValue = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.object({ maxDepth: 1 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
  );
  const mutatedEvent = fc
    .record({
      field: fc.constantFrom(
        'pipeline',
        'stage',
        'execution-id',
        'state',
        'version',
        'pipeline-execution-attempt',
        'time',
        'source',
        'detail-type',
        'id',
      ),
      value: fc.oneof(detailValue, fc.constant(undefined), fc.string({ minLength: 10_000, maxLength: 20_000 })),
    })
    .map(({ field, value }) => {
      const event = structuredClone(validEvent) as Record<string, unknown> & { detail: Record<string, unknown> };
      if (['pipeline', 'stage', 'execution-id', 'state', 'version', 'pipeline-execution-attempt'].includes(field))
        event.detail[field] = value;
      else event[field] = value;
      return event;
    });
  const anything = fc.oneof(
    fc.anything(),
    fc.json().map((j) => JSON.parse(j) as unknown),
    mutatedEvent,
  );

  it(
    'never retries, hangs or rejects unhandled on arbitrary events',
    async () => {
      // Prepare
      let runs = 0;
      const logs = new LogCapture();
      const run = aws.handler({ sink: logs.sink, clock: new ManualClock(Date.now()).now });
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      const before = aws.codepipeline.acceptedRetries().length;

      // Act
      try {
        await fc.assert(
          fc.asyncProperty(anything, async (input) => {
            runs += 1;
            // A malformed event is logged and dropped; a well-formed one for an unknown pipeline is
            // a skip: the invocation resolves. One that rejects fails the run; one that hangs fails
            // on the property's own run timeout.
            await run(input);
          }),
          propertyParameters({ numRuns: 300, seed: 1125 }),
        );
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }

      // Assess
      expect(runs).toBeGreaterThanOrEqual(enoughRuns(300));
      expect(aws.codepipeline.acceptedRetries().length).toBe(before);
      expect(unhandled).toEqual([]);
      expect(logs.lines.filter((l) => String(l.message).startsWith('malformed')).length).toBeGreaterThan(runs / 3);
    },
    propertyTestTimeout(),
  );

  it(
    'hands every garbled delay-queue message back for the DLQ with a clear log line',
    async () => {
      // Prepare
      let runs = 0;
      const logs = new LogCapture();
      const run = aws.handler({ sink: logs.sink });
      const body = fc.oneof(
        fc.string(),
        fc.json(),
        fc.string({ unit: 'grapheme' }),
        fc.json().map((j) => `{"v":1,"failure":${j}}`),
      );

      // Act / Assess
      await fc.assert(
        fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 10 }), async (bodies) => {
          runs += 1;
          const records = bodies.map((b, i) => sqsRecord(b, `m-${i}`, aws.sqs.queueArn));
          const logged = logs.lines.length;
          const response = (await run({ Records: records })) as SQSBatchResponse;
          expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(records.map((r) => r.messageId).sort());
          expect(logs.lines.slice(logged).filter((l) => l.message === 'malformed delay-queue message: left for the DLQ')).toHaveLength(
            records.length,
          );
        }),
        propertyParameters({ numRuns: 100, seed: 2511 }),
      );
      expect(runs).toBeGreaterThanOrEqual(enoughRuns(100));
    },
    propertyTestTimeout(),
  );
});
