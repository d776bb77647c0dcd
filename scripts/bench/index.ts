/**
 * npm run bench — measures the retry function against the local services and writes
 * docs/BENCHMARKS.md. Not a test: figures depend on the machine; the document says which.
 *
 * Measured: handler latency per decision path on a warm instance, events per second at
 * saturation, AWS calls per event by path, bundle size, bundle load (cold-start) time against an
 * empty handler, and the cost per million failure events derived from the call counts.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { HandlerInput, HandlerOutput } from '../../lambda/handler';
import { DEFAULT_SETTINGS } from '../../lambda/service/service-settings';
import { measureFleet } from '../../local/fleet';
import { pool } from '../../local/lambda-simulator';
import { LocalAws, ManualClock } from '../../local/local-aws';
import { serviceTime } from '../../local/service-time';
import { measureBundle } from './bundle';
import { ASSUMED_BILLED_MS, costPerMillion, MEMORY_GB, STEP_FUNCTIONS_PER_MILLION } from './cost';
import { SdkFloor } from './floor';
import { CPU_GROUPS, profileCpu } from './profile';
import { measureReconciler } from './reconciler';
import { fmt, percentile } from './stats';

const ROOT = join(__dirname, '..', '..');
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300);
const SATURATION_EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const FLEET_PIPELINES = Number(process.env.BENCH_FLEET ?? 300);

type Handler = (input: HandlerInput) => Promise<HandlerOutput>;

interface Calls {
  codepipeline: Record<string, number>;
  dynamodb: Record<string, number>;
  sqs: number;
  sns: number;
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const aws = new LocalAws();
  await aws.start();
  // Benchmarks run with the production policy cache (10 s), unlike the tests.
  process.env.POLICY_CACHE_SECONDS = '10';
  await aws.seed([{ scope: { kind: 'default' }, patch: { maxRetries: 2, cooldownSeconds: 0 } }]);
  const clock = new ManualClock(Date.now());
  aws.sqs.now = () => clock.current;
  aws.codepipeline.now = () => clock.current;
  // Log lines are written as in production (one JSON line each) but not kept: the harness should not cost the handler.
  const discard = () => undefined;
  const handler: Handler = aws.handler({ sink: discard, clock: clock.now });

  const snapshot = (): Calls => ({
    codepipeline: Object.fromEntries(
      ['GetPipelineState', 'GetPipeline', 'RetryStageExecution'].map((op) => [
        op,
        aws.codepipeline.calls.filter((c) => c.operation === op).length,
      ]),
    ),
    dynamodb: Object.fromEntries(aws.dynamo.requests),
    sqs: aws.sqs.sent.length,
    sns: aws.sns.published.length,
  });
  const diff = (a: Calls, b: Calls, n: number) => {
    const per = (x: Record<string, number>, y: Record<string, number>) =>
      Object.fromEntries(
        [...new Set([...Object.keys(x), ...Object.keys(y)])]
          .map((k) => [k, ((y[k] ?? 0) - (x[k] ?? 0)) / n] as const)
          .filter(([, v]) => v > 0),
      );
    const codepipeline = per(a.codepipeline, b.codepipeline);
    const dynamodb = per(a.dynamodb, b.dynamodb);
    const sqs = (b.sqs - a.sqs) / n;
    const sns = (b.sns - a.sns) / n;
    const total = [...Object.values(codepipeline), ...Object.values(dynamodb)].reduce((x, y) => x + y, 0) + sqs + sns;
    return { codepipeline, dynamodb, sqs, sns, total };
  };

  // One pipeline per sample keeps every sample a first failure; a few shared pipelines keep the
  // pipeline-structure cache warm the way a real fleet does (many executions, few pipelines).
  const pipelines = Array.from({ length: 20 }, () => aws.pipeline('bench'));
  // Scheduled retries each need their own pipeline: a newer execution would supersede the older.
  const cooled = Array.from({ length: SAMPLES }, () => aws.pipeline('bench-cool'));
  for (const p of cooled) await aws.policies().setPolicy({ kind: 'pipeline', pipeline: p }, { cooldownSeconds: 60 }, 'bench', new Date());
  const delivered: HandlerInput[] = [];

  // Warm up: structures cached, clients connected, policies cached.
  for (const p of pipelines) {
    aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
    await handler(aws.codepipeline.stageFailedEvent(p, 'Test'));
    aws.codepipeline.finishRetry(p, 'Test', 'Succeeded');
  }

  type Path = {
    name: string;
    prepare: (i: number) => HandlerInput;
    latencies: number[];
    /** Wall time minus the time spent inside the local services: the client side's own cost. */
    overheads: number[];
    calls?: ReturnType<typeof diff>;
  };
  /** Runs `work` and returns its wall time and its overhead (wall time minus time inside the services). */
  const timed = async (work: () => Promise<unknown>): Promise<{ wall: number; overhead: number }> => {
    const s0 = serviceTime.totalMs;
    const t0 = performance.now();
    await work();
    const wall = performance.now() - t0;
    return { wall, overhead: wall - (serviceTime.totalMs - s0) };
  };
  const paths: Path[] = [
    {
      name: 'immediate retry',
      prepare: (i) => {
        const p = pipelines[i % pipelines.length] as string;
        aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
        const event = aws.codepipeline.stageFailedEvent(p, 'Test');
        delivered.push(event);
        return event;
      },
      latencies: [],
      overheads: [],
    },
    {
      // The very events of the immediate-retry path, delivered again (EventBridge at-least-once).
      name: 'duplicate delivery (after the retry started)',
      prepare: (i) => structuredClone(delivered[i] as object),
      latencies: [],
      overheads: [],
    },
    {
      name: 'skip (rejected approval)',
      prepare: (i) => {
        const p = pipelines[i % pipelines.length] as string;
        aws.codepipeline.failNewExecution(p, 'Approve', ['Review']);
        return aws.codepipeline.stageFailedEvent(p, 'Approve');
      },
      latencies: [],
      overheads: [],
    },
    {
      name: 'delayed: schedule (cooldown)',
      prepare: (i) => {
        const p = cooled[i] as string;
        aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
        return aws.codepipeline.stageFailedEvent(p, 'Test', clock.now());
      },
      latencies: [],
      overheads: [],
    },
  ];
  const delayed: Path = { name: 'delayed: retry from the queue', prepare: () => ({}), latencies: [], overheads: [] };

  for (const path of paths) {
    const before = snapshot();
    for (let i = 0; i < SAMPLES; i++) {
      const input = path.prepare(i);
      const { wall, overhead } = await timed(() => handler(input));
      path.latencies.push(wall);
      path.overheads.push(overhead);
      if (path.name === 'immediate retry') {
        // Finish the retry so the next failure of this pipeline is a new execution's.
        const p = pipelines[i % pipelines.length] as string;
        aws.codepipeline.finishRetry(p, 'Test', 'Succeeded');
      }
    }
    path.calls = diff(before, snapshot(), SAMPLES);
    if (path.name.startsWith('delayed: schedule')) {
      // Each scheduled retry comes due: deliver its message, one per invocation, and measure.
      clock.advance(61);
      const batch = aws.sqs.takeVisible();
      const records = batch?.Records ?? [];
      const beforeDelayed = snapshot();
      for (const record of records) {
        const t0 = performance.now();
        await handler({ Records: [record] });
        delayed.latencies.push(performance.now() - t0);
      }
      delayed.calls = diff(beforeDelayed, snapshot(), Math.max(1, records.length));
    }
  }
  paths.push(delayed);

  // The SDK floor, in the same run: the same calls by bare clients, on the same pipelines.
  const floor = new SdkFloor(aws.tableName);
  const floorImmediate: number[] = [];
  const floorImmediateOverhead: number[] = [];
  const floorDuplicate: number[] = [];
  const floorDuplicateOverhead: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const p = pipelines[i % pipelines.length] as string;
    const execution = aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
    const imm = await timed(() => floor.immediate(p, execution));
    floorImmediate.push(imm.wall);
    floorImmediateOverhead.push(imm.overhead);
    const dup = await timed(() => floor.duplicate(p));
    floorDuplicate.push(dup.wall);
    floorDuplicateOverhead.push(dup.overhead);
    aws.codepipeline.finishRetry(p, 'Test', 'Succeeded');
  }

  // Where the immediate retry's CPU goes, for the handler and for the floor, under the sampling profiler.
  const cpuHandler = await profileCpu(SAMPLES, async (i) => {
    const p = pipelines[i % pipelines.length] as string;
    aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
    await handler(aws.codepipeline.stageFailedEvent(p, 'Test'));
    aws.codepipeline.finishRetry(p, 'Test', 'Succeeded');
  });
  const cpuFloor = await profileCpu(SAMPLES, async (i) => {
    const p = pipelines[i % pipelines.length] as string;
    const execution = aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
    await floor.immediate(p, execution);
    aws.codepipeline.finishRetry(p, 'Test', 'Succeeded');
  });

  // Saturation: distinct failures through a pool of warm instances.
  const instances = Array.from({ length: 16 }, () => aws.handler({ sink: discard, clock: clock.now }));
  const own = Array.from({ length: SATURATION_EVENTS }, () => aws.pipeline('sat1'));
  const ownEvents = own.map((p) => {
    aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']);
    return aws.codepipeline.stageFailedEvent(p, 'Test');
  });
  let k = 0;
  const beforeBurst = snapshot();
  const t0 = performance.now();
  await pool(ownEvents, 16, async (e) => {
    await (instances[k++ % instances.length] as Handler)(e);
  });
  const seconds = (performance.now() - t0) / 1000;
  const perSecond = ownEvents.length / seconds;
  const burstCalls = diff(beforeBurst, snapshot(), ownEvents.length);
  // The floor of the same burst: bare clients making each event's calls (state, structure, claim,
  // retry, outcome), on new pipelines, 16 in flight.
  const floorOwn = Array.from({ length: SATURATION_EVENTS }, () => aws.pipeline('sat-floor'));
  const floorExecutions = floorOwn.map((p) => aws.codepipeline.failNewExecution(p, 'Test', ['UnitTests']));
  let f = 0;
  const f0 = performance.now();
  await pool(floorOwn, 16, async (p) => {
    await floor.immediate(p, floorExecutions[f++] as string, true);
  });
  const floorPerSecond = floorOwn.length / ((performance.now() - f0) / 1000);
  // A fleet-wide failure against an account-wide request limit (simulated time).
  process.env.POLICY_CACHE_SECONDS = '0';
  const fleets = [
    {
      name: 'throttled fleet: the account also allows 20/s',
      run: await measureFleet(aws, { pipelines: FLEET_PIPELINES, budget: 20, accountLimit: 20 }),
    },
    { name: 'unthrottled fleet: no account limit', run: await measureFleet(aws, { pipelines: FLEET_PIPELINES, budget: 20 }) },
    {
      name: 'the account allows only 12/s (others spend the rest)',
      run: await measureFleet(aws, { pipelines: FLEET_PIPELINES, budget: 20, accountLimit: 12 }),
    },
    {
      name: 'one warm instance: 3 failures a second apart, budget 10/s',
      run: await measureFleet(aws, { pipelines: 3, budget: 10, instances: 1, spreadSeconds: 3 }),
    },
    {
      name: 'one warm instance: 10 failures at once, budget 10/s',
      run: await measureFleet(aws, { pipelines: 10, budget: 10, instances: 1, spreadSeconds: 0 }),
    },
  ];
  const reconciler = await measureReconciler(aws, clock);
  await aws.stop();

  const bundle = measureBundle(join(ROOT, 'lambda/handler.ts'));
  const seedBundle = measureBundle(join(ROOT, 'lambda/seed/handler.ts'));
  const immediate = paths[0]?.calls;
  const ours = costPerMillion(immediate);
  const stepFunctions = STEP_FUNCTIONS_PER_MILLION;

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, ${process.platform}/${process.arch}`;
  const rows = paths.map((p) => {
    const c = p.calls;
    const detail = c
      ? [
          ...Object.entries(c.codepipeline),
          ...Object.entries(c.dynamodb),
          ...(c.sqs ? [['SQS SendMessage', c.sqs]] : []),
          ...(c.sns ? [['SNS Publish', c.sns]] : []),
        ]
          .map(([k, v]) => `${k} ${fmt(Number(v), 2).replace(/\.00$/, '')}`)
          .join(', ')
      : '';
    return `| ${p.name} | ${fmt(percentile(p.latencies, 50))} | ${fmt(percentile(p.latencies, 99))} | ${c ? fmt(c.total, 2) : '-'} | ${detail} |`;
  });
  const immediateWall = paths[0]?.latencies ?? [];
  const immediateOverhead = paths[0]?.overheads ?? [];
  const duplicateOverhead = paths[1]?.overheads ?? [];
  const sum = (share: Record<string, number>): number => Object.values(share).reduce((a, b) => a + b, 0);
  const ratioRow = (label: string, ours: number[], base: number[], p: number): string =>
    `| ${label} | ${fmt(percentile(ours, p))} ms | ${fmt(percentile(base, p))} ms | ${fmt(percentile(ours, p) / percentile(base, p))}× |`;
  const doc = `# Benchmarks

Written by \`npm run bench\` (scripts/bench/) on ${new Date().toISOString().slice(0, 10)}. Not a test: the figures depend on the
machine, and these are from one run on **${machine}**.

## How it was measured

- The real handler (lambda/handler.ts, with the production factory and SDK v3 clients) against the local services on loopback:
  dynalite (in-memory DynamoDB), the CodePipeline emulator and the SQS and SNS emulators. One warm instance: clients connected,
  pipeline structures and policies cached (POLICY_CACHE_SECONDS=10, the production default), after a warm-up event per pipeline.
- Latency: wall time of each handler invocation, ${SAMPLES} samples per path. Loopback round trips are far faster than AWS's, so
  these figures show the code's own cost; on AWS each call adds its network round trip.
- AWS calls per event: requests counted at each local service (CodePipeline by operation, DynamoDB by X-Amz-Target, SQS sends,
  SNS publishes), divided by the samples.
- Saturation: ${SATURATION_EVENTS} distinct first failures (one pipeline each) through 16 warm instances, 16 in flight.

## Latency and AWS calls per decision path (warm instance)

| path | p50 ms | p99 ms | AWS calls per event | calls |
|---|---|---|---|---|
${rows.join('\n')}

### Against the SDK floor

The floor is bare SDK v3 clients making the same calls against the same services in the same run,
with none of the product's code. Overhead is an invocation's wall time minus the time spent inside
the local services (summed over the requests it made, from request headers read to reply written):
what the client side costs, the product's code and the SDK together. The floor's overhead is the
SDK's alone.

| | handler | SDK floor | ratio |
|---|---|---|---|
${ratioRow('immediate retry, overhead p50', immediateOverhead, floorImmediateOverhead, 50)}
${ratioRow('immediate retry, overhead p99', immediateOverhead, floorImmediateOverhead, 99)}
${ratioRow('immediate retry, wall time p50', immediateWall, floorImmediate, 50)}
${ratioRow('immediate retry, wall time p99', immediateWall, floorImmediate, 99)}
${ratioRow('duplicate, overhead p99', duplicateOverhead, floorDuplicateOverhead, 99)}
| burst of ${SATURATION_EVENTS} new pipelines, events/s | ${fmt(perSecond, 0)} | ${fmt(floorPerSecond, 0)} | ${fmt(perSecond / floorPerSecond)}× |

The floor's DynamoDB requests are the simplest that do the same job (one attribute, one
condition); the handler's carry the ledger's claim map and conditions. In the overhead rows
dynalite's own work on them is subtracted; in the wall-time rows and the burst it is not, and it
runs in this same process, on the same two cores.

Where the immediate retry's CPU time goes (V8's sampling profiler, ${SAMPLES} invocations each, ms per invocation;
the emulators and dynalite run in this process, so their share is in the figures too):

| | handler | SDK floor | difference |
|---|---|---|---|
${CPU_GROUPS.map((g) => `| ${g} | ${fmt(cpuHandler[g])} | ${fmt(cpuFloor[g])} | ${fmt(cpuHandler[g] - cpuFloor[g])} |`).join('\n')}
| all | ${fmt(sum(cpuHandler))} | ${fmt(sum(cpuFloor))} | ${fmt(sum(cpuHandler) - sum(cpuFloor))} |

The duplicate row is the usual duplicate: the same event delivered again after the first
delivery's retry started; the live state alone answers (the stage is running again) and nothing is
written. A delayed retry takes its claim in one conditional write that returns the record, with the
token its delay message carries. The scheduled path creates a new pipeline per sample, so its
GetPipeline and policy reads are cold-cache figures.

## A fleet-wide failure, and the shared request rate

\`codePipelineRequestsPerSecond\` (here 20) is what the whole deployment may spend in an account and region: its instances
share it through one DynamoDB item (a reservation each, for a second, renewed while the instance has work), an instance alone may spend all of
it, and after a throttled answer the deployment spends 70 % of what it did and grows back by a tenth of the budget every
10 s. ${FLEET_PIPELINES} pipelines fail within 2 s; the deployment's own limits are simulated: 10 instances (its reserved
concurrency), Lambda's two retries of a failed event, the delay queue's event source at 5 batches at once. The account's
limit, where there is one, is a token bucket in the emulator (ThrottlingException beyond it). Time is simulated, waits
inside an invocation too, so the seconds are the design's, not this machine's. The floor is the CodePipeline calls the
failures need (3 each: the stage's state, the pipeline's structure, the retry) at the lower of the budget and the
account's limit, or, where that is later, the last failure's arrival and its own three calls at that rate. Rate-item
writes are the reservations' conditional PutItems (DynamoDB requests on top of the ledger's).

| run | retried (twice) | lost | dead-lettered | last retry s | floor s | ratio | CodePipeline calls per failure | rate-item writes per failure | most calls in a second | beyond the budget | throttled answers | deferred to the queue | invocations (threw) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
${fleets
  .map(({ name, run: f }) =>
    [
      name,
      `${f.retries} (${f.retriedTwice})`,
      f.lost,
      f.deadLettered,
      fmt(f.secondsToLastRetry, 1),
      fmt(f.floorSeconds, 1),
      `${fmt(f.secondsToLastRetry / f.floorSeconds, 2)}×`,
      fmt(f.codePipelineCalls / f.pipelines, 2),
      fmt(f.rateWritesPerFailure, 2),
      f.maxCallsPerSecond,
      f.overBudget,
      f.throttledAnswers,
      f.deferred,
      `${f.invocations} (${f.faults})`,
    ].join(' | '),
  )
  .map((row) => `| ${row} |`)
  .join('\n')}

"Beyond the budget" counts the calls a token bucket of the budget per second, with a second's burst (as AWS counts a
rate), would have refused. "Most calls in a second" is over any sliding second, so it includes that burst: each
instance may carry one unspent request into the next. A lone failure on a warm instance is not deferred (its ratio can be
below 1× when the instance still holds a turn from its last reservation), and a burst on one instance waits its turns
inside the invocation (up to a quarter of the function's timeout) instead of going
through the delay queue and reading again. Throttled work that does go to the delay queue never spends Lambda's retries.

## The reconciler

The production handler given the scheduled rule's event, as it is every 5 minutes: one Query of the
OpenClaims index (keys only, records whose earliest open-claim deadline has passed), then for each
claim found a read, one write (a fresh token) and one delay message due now. Claims still within
their deadline are not in the Query's answer, so they cost nothing.

| table | DynamoDB requests | delay messages | wall time |
|---|---|---|---|
| idle (no open claim) | ${requests(reconciler.idle.dynamodb)} | ${reconciler.idle.sends} | ${fmt(reconciler.idle.ms, 1)} ms |
| 1,000 open claims, none past its deadline | ${requests(reconciler.pending.dynamodb)} | ${reconciler.pending.sends} | ${fmt(reconciler.pending.ms, 1)} ms |
| 1,000 claims past their deadline, each run (${reconciler.overdue.length} runs to wake them all) | ${requests(reconciler.overdue[0]?.dynamodb ?? {})} | ${reconciler.overdue[0]?.sends ?? 0} | ${fmt(reconciler.overdue[0]?.ms ?? 0, 0)} ms |

An idle deployment pays ${fmt(8640 * 0.5, 0)} read request units a month for the runs (8,640 Queries of half a unit each): well under
a cent. The worst case from a fault to the claim being woken is its deadline (a dead holder's lease of 2 minutes, or a scheduled
retry's due time plus a grace of 5 minutes) plus one period (5 minutes); a run takes at most ${DEFAULT_SETTINGS.reconcileBatch} records, so
1,000 stuck claims are all woken within ${reconciler.overdue.length} runs.

## Throughput

${fmt(perSecond, 0)} events per second at saturation (${SATURATION_EVENTS} events in ${fmt(seconds, 1)} s, every one retried): a cold burst
of new pipelines on 16 instances, ${fmt(burstCalls.total, 2)} AWS calls per event (${Object.entries({
    ...burstCalls.codepipeline,
    ...burstCalls.dynamodb,
  })
    .map(([k, v]) => `${k} ${fmt(Number(v), 2)}`)
    .join(', ')}). Policies and pause switches are read once per instance per cache period (two Queries).

## Bundle and cold start

Both functions bundled as the package build bundles them (ES module, the packages' ES builds first,
the default credential chain replaced by the environment provider), and timed as a cold start
pays: the median wall time of 21 fresh Node.js processes importing the file, alternating with
processes importing an empty handler. The bundle column is what a cold start loads: the entry and
the chunks it imports statically. The STS client (organization deployments, which assume member
accounts' roles), the SNS client (notices) and the failure classifier with the CodeBuild,
CodeDeploy and CloudFormation clients (policies with class rules) are chunks of their own,
loaded on first use.

| function | bundle | process that imports it | empty handler's process | ratio |
|---|---|---|---|---|
| retry function | ${(bundle.bytes / 1024).toFixed(0)} KiB | ${fmt(bundle.processMs, 1)} ms | ${fmt(bundle.emptyProcessMs, 1)} ms | ${fmt(bundle.processMs / bundle.emptyProcessMs, 2)}× |
| seed function | ${(seedBundle.bytes / 1024).toFixed(0)} KiB | ${fmt(seedBundle.processMs, 1)} ms | ${fmt(seedBundle.emptyProcessMs, 1)} ms | ${fmt(seedBundle.processMs / seedBundle.emptyProcessMs, 2)}× |

## Cost per million failure events (immediate-retry path)

Public list prices, us-east-1: Lambda $0.20 per million requests and $0.0000133334 per GB-second (arm64); DynamoDB on-demand
$0.625 per million write and $0.125 per million read request units; SQS $0.40 per million requests; Step Functions standard
$25 per million state transitions. CodePipeline API calls and AWS service events on the default event bus carry no charge.
Assumed: ${MEMORY_GB * 1024} MB memory and ${ASSUMED_BILLED_MS} ms billed per invocation on AWS (the loopback latency above is not what AWS bills).
Free tiers are ignored. Check current prices before relying on these.

| approach | cost per million failure events |
|---|---|
| codepipeline-auto-retry (this run's call counts) | $${fmt(ours)} |
| CodePipeline's native stage retry (onFailure: RETRY) | $0.00 (one immediate retry, no filters, no budget) |
| a Step Functions standard workflow per failure (~7 transitions + 1 DynamoDB write) | $${fmt(stepFunctions)} |
`;
  writeFileSync(join(ROOT, 'docs', 'BENCHMARKS.md'), doc);
  process.stdout.write(doc);
}

/** "Query 1, GetItem 200": DynamoDB requests by operation. */
function requests(byOperation: Record<string, number>): string {
  const entries = Object.entries(byOperation);
  return entries.length === 0 ? 'none' : entries.map(([op, n]) => `${op} ${n}`).join(', ');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
