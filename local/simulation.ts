import type { SQSBatchResponse } from 'aws-lambda';
import type { HandlerInput, HandlerOutput } from '../lambda/handler';
import { formatDuration } from '../policy/duration';
import type { PolicyPatch } from '../policy/policy';
import { type PolicySeed, targetLabel } from '../policy/scope';
import { CLASS_SCENARIOS, type ClassScenarioParts } from './class-scenarios';
import type { CodePipelineEmulator } from './codepipeline/emulator';
import { LocalAws, standardPipeline } from './local-aws';

/**
 * The simulation (`autoretry simulate`, `npm run demo`): plays scripted pipelines through the real handler, with dynalite and the local
 * CodePipeline and SQS emulators, and the policies from a cdk.json. Cooldowns are shortened so a
 * whole run takes seconds; the simulation says so.
 */

/** Cooldowns longer than this are shortened to it in the simulation. */
export const SIMULATION_COOLDOWN_SECONDS = 1;

export interface TimelineEntry {
  /** Seconds since the scenario started. */
  readonly t: number;
  readonly pipeline: string;
  readonly stage: string;
  readonly kind: 'failed' | 'decision' | 'retry-started' | 'succeeded' | 'note';
  readonly text: string;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly pipeline: string;
  readonly stage: string;
  /** RetryStageExecution calls the emulator accepted. */
  readonly retries: number;
  /** recovered | exhausted | skipped:<reason> | observed | failed */
  readonly outcome: string;
  readonly timeline: readonly TimelineEntry[];
}

export interface Scenario extends ClassScenarioParts {
  readonly name: string;
  readonly title: string;
  /** The pipeline and stage it plays, so the configured policy for them applies. */
  readonly pipeline: string;
  readonly stage: string;
  readonly failedActions: readonly string[];
  /** What each automatic retry comes to, in order; a missing entry means the retry fails. */
  readonly retryResults: readonly ('Succeeded' | 'Failed')[];
  /** Something that happens between the failure and its event: the failure gets superseded. */
  readonly before?: 'newer-execution-fails';
  readonly error?: { readonly code: string; readonly message: string };
  /** Played in a member account of an organization deployment, in another region, through its role. */
  readonly inMember?: boolean;
}

/** The member account and region the two-account scenario plays in. */
export const SIMULATION_MEMBER = { account: '210987654321', region: 'eu-west-1' } as const;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'flaky-build',
    title: 'A flaky test stage that passes on its second retry',
    pipeline: 'web-app',
    stage: 'Test',
    failedActions: ['UnitTests'],
    retryResults: ['Failed', 'Succeeded'],
    error: { code: 'JobFailed', message: 'Build timed out after 30 minutes' },
  },
  {
    name: 'exhausted',
    title: 'A stage that keeps failing until its retries are used up',
    pipeline: 'api',
    stage: 'Test',
    failedActions: ['IntegrationTests'],
    retryResults: [],
    error: { code: 'JobFailed', message: '3 tests failed' },
  },
  {
    name: 'approval-rejected',
    title: 'A rejected manual approval, left alone',
    pipeline: 'web-app',
    stage: 'Approve',
    failedActions: ['Review'],
    retryResults: [],
  },
  {
    name: 'superseded',
    title: 'A failure superseded by a newer execution before it is handled',
    pipeline: 'web-app',
    stage: 'Test',
    failedActions: ['UnitTests'],
    retryResults: [],
    before: 'newer-execution-fails',
  },
  {
    name: 'cooldown',
    title: 'A deploy retried after its cooldown, from the delay queue',
    pipeline: 'web-app',
    stage: 'Deploy',
    failedActions: ['ExecuteChangeSet'],
    retryResults: ['Succeeded'],
    error: { code: 'JobFailed', message: 'Rate exceeded (Service: CloudFormation)' },
  },
  {
    name: 'member-account',
    title: `A flaky test in member account ${SIMULATION_MEMBER.account} (${SIMULATION_MEMBER.region}), retried there through its role`,
    pipeline: 'web-app',
    stage: 'Test',
    failedActions: ['UnitTests'],
    retryResults: ['Succeeded'],
    error: { code: 'JobFailed', message: 'Build timed out after 30 minutes' },
    inMember: true,
  },
  ...CLASS_SCENARIOS,
];

export interface SimulationOptions {
  /** The policies to play (from cdk.json through policy/config.ts). */
  readonly policies: readonly PolicySeed[];
  /** Play the scenarios against this pipeline name instead of their own. */
  readonly pipeline?: string;
  /** Play the scenarios against this stage instead of their own (it must exist in the simulated pipeline). */
  readonly stage?: string;
  /** Called with each timeline entry as it happens. */
  readonly onEntry?: (entry: TimelineEntry) => void;
  /** Called as each scenario starts. */
  readonly onScenario?: (scenario: Scenario, target: { pipeline: string; stage: string }) => void;
  /** Called with notes about the run, such as shortened cooldowns. */
  readonly onNote?: (note: string) => void;
}

/** Starts the local services, seeds the policies, runs the scenarios one after another. */
export async function runSimulation(scenarios: readonly Scenario[], options: SimulationOptions): Promise<ScenarioResult[]> {
  const aws = new LocalAws();
  await aws.start();
  try {
    await seedForPlay(aws, options);
    return await playScenarios(aws, scenarios, options);
  } finally {
    await aws.stop();
  }
}

/** Seeds the policies with their cooldowns shortened so a play takes seconds, and says which were. */
export async function seedForPlay(aws: LocalAws, options: Pick<SimulationOptions, 'policies' | 'onNote'>): Promise<void> {
  const shortened: string[] = [];
  const policies = options.policies.map(({ scope, patch }) => {
    if (!patch.cooldownSeconds || patch.cooldownSeconds <= SIMULATION_COOLDOWN_SECONDS) return { scope, patch };
    const label = scope.kind === 'default' ? 'default' : `${targetLabel(scope)}${scope.kind === 'stage' ? `/${scope.stage}` : ''}`;
    shortened.push(`${label} ${formatDuration(patch.cooldownSeconds)}`);
    return { scope, patch: { ...patch, cooldownSeconds: SIMULATION_COOLDOWN_SECONDS } satisfies PolicyPatch };
  });
  await aws.seed(policies);
  if (shortened.length > 0) {
    options.onNote?.(`cooldowns shortened to ${SIMULATION_COOLDOWN_SECONDS}s for the simulation: ${shortened.join(', ')}`);
  }
}

/**
 * Plays scenarios into running local services (the simulation's, or a sandbox's, whose table
 * then holds their history for the CLI to read).
 */
export async function playScenarios(aws: LocalAws, scenarios: readonly Scenario[], options: SimulationOptions): Promise<ScenarioResult[]> {
  // A member account on its own endpoint, with its role in the local STS, when a scenario plays there.
  const [member] = scenarios.some((s) => s.inMember) ? await aws.organization([SIMULATION_MEMBER]) : [];
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const target = { pipeline: options.pipeline ?? scenario.pipeline, stage: options.stage ?? scenario.stage };
    options.onScenario?.(scenario, target);
    const cp = scenario.inMember && member ? member : aws.codepipeline;
    results.push(await playScenario(aws, cp, scenario, target, options));
  }
  return results;
}

async function playScenario(
  aws: LocalAws,
  cp: CodePipelineEmulator,
  scenario: Scenario,
  target: { pipeline: string; stage: string },
  options: SimulationOptions,
): Promise<ScenarioResult> {
  const { pipeline, stage } = target;
  const started = Date.now();
  const timeline: TimelineEntry[] = [];
  const add = (kind: TimelineEntry['kind'], text: string): void => {
    const entry = { t: (Date.now() - started) / 1000, pipeline, stage, kind, text };
    timeline.push(entry);
    options.onEntry?.(entry);
  };
  let lastDecision: Record<string, unknown> | undefined;
  const handler = aws.handler({
    sink: (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.message !== 'decision') {
        if (entry.level === 'error' || entry.level === 'warn') add('note', `${String(entry.level)}: ${String(entry.message)}`);
        return;
      }
      lastDecision = entry;
      const attempt = entry.attempt === undefined ? '' : ` (retry ${String(entry.attempt)})`;
      add('decision', `${String(entry.decision)}${attempt}: ${String(entry.reason)}`);
    },
  });

  if (!cp.hasPipeline(pipeline)) cp.createPipeline(standardPipeline(pipeline));
  const notificationsBefore = aws.sns.published.length;
  if (scenario.inMember) add('note', `in member account ${cp.account} (${cp.region}): the central function assumes its member role`);
  const retriesBefore = cp.acceptedRetries(pipeline).length;
  const actions = scenario.stage === stage ? scenario.failedActions : firstActionOf(pipeline, stage);
  if (scenario.policy) {
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, scenario.policy, 'simulation', new Date());
    add('note', `policy for ${pipeline} while it plays: ${JSON.stringify(scenario.policy)}`);
  }
  const builds = [...(scenario.builds ?? [])];
  // The failed action's run is a CodeBuild build the local CodeBuild answers for: the next one each time it fails.
  const nextBuild = () => {
    const spec = builds.length > 1 ? builds.shift() : builds[0];
    if (spec) aws.providers.build({ pipeline, stage, action: actions[0] ?? 'UnitTests' }, spec);
  };
  cp.failNewExecution(pipeline, stage, actions, scenario.error ?? {});
  nextBuild();
  const event = cp.stageFailedEvent(pipeline, stage);
  add('failed', `stage failed: ${actions.join(', ')}${scenario.error ? ` — ${scenario.error.message}` : ''}`);
  if (scenario.before === 'newer-execution-fails') {
    cp.failNewExecution(pipeline, stage, actions, scenario.error ?? {});
    add('note', 'a newer execution reached the stage and failed before the first event was handled');
  }

  await deliver(handler, event);
  const results = [...scenario.retryResults];
  for (let step = 0; step < 50; step++) {
    const status = cp.stageStatus(pipeline, stage);
    if (status.status === 'InProgress') {
      add('retry-started', `stage running again (${status.retryMode ?? 'retry'})`);
      const result = results.shift() ?? 'Failed';
      cp.finishRetry(pipeline, stage, result, scenario.error ?? {});
      if (result === 'Succeeded') {
        add('succeeded', 'stage succeeded');
        break;
      }
      add('failed', 'stage failed again');
      nextBuild();
      await deliver(handler, cp.stageFailedEvent(pipeline, stage));
      continue;
    }
    const pending = aws.sqs.pending();
    if (pending.length === 0) break;
    const wait = Math.max(0, Math.min(...pending.map((m) => m.visibleAt)) - Date.now());
    await new Promise((resolve) => setTimeout(resolve, wait + 20));
    const batch = aws.sqs.takeVisible();
    if (batch) {
      add('note', `delay queue delivered ${batch.Records.length} message(s)`);
      const response = (await deliver(handler, batch)) as SQSBatchResponse | undefined;
      aws.sqs.returnToQueue(batch.Records.filter((r) => response?.batchItemFailures.some((f) => f.itemIdentifier === r.messageId)));
    }
  }

  for (const n of aws.sns.published.slice(notificationsBefore)) add('note', `notification sent: ${n.subject ?? '(no subject)'}`);
  if (cp.stageStatus(pipeline, stage).status === 'Succeeded') await deliver(handler, cp.stageSucceededEvent(pipeline, stage));
  const retries = cp.acceptedRetries(pipeline).length - retriesBefore;
  const final = cp.stageStatus(pipeline, stage).status;
  const reason = String(lastDecision?.reason ?? '');
  let outcome: string;
  if (final === 'Succeeded') outcome = retries > 0 ? 'recovered' : 'succeeded';
  else if (reason.startsWith('max-retries')) outcome = 'exhausted';
  else if (lastDecision?.decision === 'observed') outcome = 'observed';
  else if (lastDecision?.decision === 'skipped') outcome = `skipped:${reason.split(':')[0]}`;
  else outcome = String(lastDecision?.decision ?? 'failed');
  return { scenario: scenario.name, pipeline, stage, retries, outcome, timeline };

  async function deliver(run: (input: HandlerInput) => Promise<HandlerOutput>, input: HandlerInput): Promise<HandlerOutput> {
    try {
      return await run(input);
    } catch (error) {
      add('note', `handler threw (Lambda would retry the event): ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}

function firstActionOf(pipeline: string, stage: string): string[] {
  const definition = standardPipeline(pipeline).stages.find((s) => s.name === stage);
  if (!definition) throw new Error(`the simulated pipeline has no stage ${stage}; use one of Source, Test, Approve, Deploy`);
  return [definition.actions[0]?.name ?? 'Action'];
}
