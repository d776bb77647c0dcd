import { MetricName } from '../../contract';
import { FailureClass } from '../../policy/failure-class';
import { BuiltInRule } from '../../policy/policy';
import { needsClassification } from '../../policy/rules';
import {
  classifyBuild,
  classifyDeployment,
  classifyJobFailure,
  classifyStackEvents,
  linkOf,
  needsTestCases,
  type ProviderLink,
  sameTests,
  unknownClass,
  unreadClass,
} from '../domain/classify';
import type { SameTestsFailure } from '../domain/decision';
import { MemberRoleError, ProviderRefusedError, RoleThrottledError, ThrottledError, TransientFaultError } from '../domain/errors';
import type { ActionClasses } from '../domain/filters';
import type { Classification } from '../domain/provider-answers';
import type { StageRef } from '../domain/refs';
import { type ActionRun, ActionStatus, type ActionView, fingerprintEntries, StageStatus, type StageView } from '../domain/types';
import type { ProviderPort } from '../ports';
import type { EvidenceNeeds, ProviderEvidence } from './evidence';
import type { ServiceDeps } from './service-settings';

/**
 * The step between the read and the decision: why each failed action failed, from the provider
 * behind it (linkOf → one ProviderPort read → the pure classifier). Run only when a decision
 * needs it; a provider that cannot be asked makes the action `unknown`, with evidence saying so,
 * never an error that loses the failure.
 */

/** The most classifications a warm instance keeps (oldest dropped first). */
export const MAX_CACHED_CLASSIFICATIONS = 500;

/** The provider's name for each kind of read, as evidence of a fault names it. */
const PROVIDER_NAMES = { codebuild: 'CodeBuild', codedeploy: 'CodeDeploy', cloudformation: 'CloudFormation' } as const;

/** What the classification of failed actions is read with besides the actions themselves. */
export interface ClassifyOptions {
  /** The runs of the stage's actions in the execution: where a CloudFormation action's run starts. @default read when needed */
  readonly runs?: readonly ActionRun[];
  /** Classify only the failed actions this accepts. @default every failed action */
  readonly only?: (action: ActionView) => boolean;
}

const isBuild = (a: ActionView) => linkOf(a).kind === 'codebuild';

/**
 * Classifies a stage's failed actions, one provider read per provider object (two for a build
 * whose failed tests count), the answers kept per external execution id on the warm instance.
 */
export class FailureClasses {
  private readonly cache = new Map<string, Classification>();

  public constructor(private readonly deps: ServiceDeps) {}

  /** Whether this instance can ask providers at all (the tests' fakes may leave them out). */
  public get available(): boolean {
    return this.deps.providers !== undefined;
  }

  /**
   * What the decision needs from the providers, read only when it matters: every failed action's
   * class when the policy has a `class` rule (or the deployment classifies everything), and,
   * after one of our retries, whether a CodeBuild action failed with the same tests as before.
   * Otherwise no provider is asked.
   */
  public async forDecision(ref: StageRef, needs: EvidenceNeeds): Promise<ProviderEvidence> {
    const { view, policy } = needs;
    if (view.status !== StageStatus.Failed) return {};
    const all = needs.classifyAll || needsClassification(policy);
    const failed = view.actions.filter((a) => a.status === ActionStatus.Failed);
    const judge = needs.retried.length > 0 && !policy.overrideBuiltIns.includes(BuiltInRule.SameTestsFailed) && failed.some(isBuild);
    if (!all && !judge) return {};
    const classes = await this.ofStage(ref, view, all ? {} : { only: isBuild });
    // The earlier runs (one ListActionExecutions) only when a build failed its tests this time.
    const tested = judge && [...classes.values()].some((c) => c.class === FailureClass.Test);
    const same = tested
      ? // The runs are the evidence here, with no fallback: a throttled read defers the event (as any
        // CodePipeline read does), a fault goes to Lambda's retry; neither decides on runs not seen.
        await this.sameTestsAfterRetry(ref, failed, classes, { retried: needs.retried, runs: await this.deps.pipelines.actionRuns(ref) })
      : undefined;
    return { classes, ...(same ? { sameTests: same } : {}) };
  }

  /**
   * The classifications of the view's failed actions, by action name. The runs of the stage's
   * actions (an extra ListActionExecutions) are read only when a CloudFormation action failed.
   */
  public async ofStage(ref: StageRef, view: StageView, options: ClassifyOptions = {}): Promise<ActionClasses> {
    const failed = view.actions.filter((a) => a.status === ActionStatus.Failed && (options.only?.(a) ?? true));
    const needRuns =
      options.runs === undefined && failed.some((a) => linkOf(a).kind === 'cloudformation' && !this.cache.has(keyOf(linkOf(a), a)));
    const runs = options.runs ?? (needRuns ? await this.actionRuns(ref) : []);
    const entries = await Promise.all(failed.map(async (a) => [a.name, await this.ofAction(ref, a, { runs })] as const));
    return new Map(entries);
  }

  /**
   * A failed CodeBuild action that failed as `test` after our retry, with the same set of tests
   * as the run our retry re-ran (its build found through ListActionExecutions): one more build
   * read, and its failed cases, per such action.
   */
  private async sameTestsAfterRetry(
    ref: StageRef,
    failed: readonly ActionView[],
    classes: ActionClasses,
    earlier: { readonly retried: readonly string[]; readonly runs: readonly ActionRun[] },
  ): Promise<SameTestsFailure | undefined> {
    const rerun = earlier.retried.flatMap(fingerprintEntries);
    for (const action of failed) {
      const now = classes.get(action.name);
      if (now?.class !== FailureClass.Test || !now.failedTests || now.failedTests.length === 0) continue;
      const ids = rerun.filter((e) => e.action === action.name).map((e) => e.executionId);
      const before = earlier.runs
        .filter((r) => r.actionName === action.name && ids.includes(r.actionExecutionId ?? '') && r.externalExecutionId)
        .filter((r) => r.externalExecutionId !== action.externalExecutionId)
        .sort((a, b) => (b.startedAt?.getTime() ?? 0) - (a.startedAt?.getTime() ?? 0))[0];
      if (!before) continue;
      const then = await this.ofAction(ref, {
        ...action,
        executionId: before.actionExecutionId,
        externalExecutionId: before.externalExecutionId,
      });
      if (sameTests(then.failedTests ?? [], now.failedTests)) return { action: action.name, tests: now.failedTests };
    }
    return undefined;
  }

  /** Why one failed action failed; never throws. */
  public async ofAction(ref: StageRef, action: ActionView, options: Pick<ClassifyOptions, 'runs'> = {}): Promise<Classification> {
    const link = linkOf(action);
    if (link.kind === 'job') return classifyJobFailure(action);
    if (link.kind === 'none') return unknownClass(`${action.name}: ${link.why}`);
    const key = keyOf(link, action);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const providers = this.deps.providers;
    if (!providers) return unknownClass(`${action.name}: no provider reader is configured; taken as unknown`);
    try {
      const classification = await this.read(providers, ref, link, action, options);
      // An answer that is not final yet (not found, still running) is asked again next time.
      if (classification.unread !== true) this.remember(key, classification);
      this.deps.metrics.count(MetricName.FailureClassified, ref.pipeline, {
        dimensions: { FailureClass: classification.class },
        metadata: { stage: ref.stage, action: action.name, provider: PROVIDER_NAMES[link.kind] },
      });
      return classification;
    } catch (error) {
      return this.fault(link, action, error);
    }
  }

  private async read(
    providers: ProviderPort,
    at: StageRef,
    link: Exclude<ProviderLink, { kind: 'job' | 'none' }>,
    action: ActionView,
    options: Pick<ClassifyOptions, 'runs'>,
  ): Promise<Classification> {
    switch (link.kind) {
      case 'codebuild': {
        const build = await providers.build(at, link.buildId);
        // Not found (yet: CodeBuild can lag behind CodePipeline): the class is not read.
        if (!build) return unreadClass(`CodeBuild has no build ${link.buildId}; taken as unknown`);
        if (!needsTestCases(build)) return classifyBuild(build);
        return classifyBuild(build, await providers.failedTestCases(at, build.reportArns ?? []));
      }
      case 'codedeploy': {
        const deployment = await providers.deployment(at, link.deploymentId);
        if (!deployment) return unreadClass(`CodeDeploy has no deployment ${link.deploymentId}; taken as unknown`);
        return classifyDeployment(deployment);
      }
      case 'cloudformation': {
        const run = (options.runs ?? []).find((r) => r.actionName === action.name && r.actionExecutionId === action.executionId);
        // Without its run's start, the last status change bounds the window from above only: read the last hour before it.
        const since = run?.startedAt ?? new Date((action.changedAt ?? this.deps.clock()).getTime() - 3_600_000);
        return classifyStackEvents(link.stackName, await providers.stackEvents(at, link.stackName, since));
      }
    }
  }

  /** A provider read that failed: the action is `unknown`, and the evidence says why. */
  private fault(link: Exclude<ProviderLink, { kind: 'job' | 'none' }>, action: ActionView, error: unknown): Classification {
    const provider = PROVIDER_NAMES[link.kind];
    const why =
      error instanceof RoleThrottledError
        ? 'could not be read: STS throttled AssumeRole of the member role'
        : error instanceof ThrottledError
          ? 'throttled the read'
          : error instanceof ProviderRefusedError
            ? 'refused the read'
            : error instanceof MemberRoleError
              ? 'could not be read: the member role could not be assumed'
              : error instanceof TransientFaultError
                ? 'could not be read (a fault)'
                : // An answer the reader could not take apart (a shape no documentation shows): the
                  // failure must still be decided, never thrown back for a redelivery that fails the same way.
                  'gave an answer that could not be read';
    this.deps.logger.log('warn', 'provider read failed: failure classified as unknown', {
      action: action.name,
      provider,
      error: error instanceof Error ? error.message : String(error),
    });
    return unreadClass(`${provider} ${why}; taken as unknown`);
  }

  private async actionRuns(ref: StageRef): Promise<readonly ActionRun[]> {
    try {
      return await this.deps.pipelines.actionRuns(ref);
    } catch (error) {
      // The window then falls back to the action's last status change.
      if (error instanceof TransientFaultError) return [];
      throw error;
    }
  }

  private remember(key: string, classification: Classification): void {
    this.cache.delete(key);
    this.cache.set(key, classification);
    while (this.cache.size > MAX_CACHED_CLASSIFICATIONS) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}

/** The cache key of a provider object: a build or deployment by its id, a stack by the action run that failed on it. */
function keyOf(link: ProviderLink, action: ActionView): string {
  switch (link.kind) {
    case 'codebuild':
      return `codebuild:${link.buildId}`;
    case 'codedeploy':
      return `codedeploy:${link.deploymentId}`;
    case 'cloudformation':
      return `cloudformation:${link.stackName}:${action.executionId ?? action.changedAt?.toISOString() ?? ''}`;
    default:
      return `${link.kind}:${action.name}`;
  }
}
