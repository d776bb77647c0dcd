import { CloudFormationEmulator, type StackEventSpec } from './cloudformation-emulator';
import { type BuildSpec, CodeBuildEmulator } from './codebuild-emulator';
import { CodeDeployEmulator, type DeploymentSpec } from './codedeploy-emulator';
import type { PipelineWorld } from './codepipeline/world';
import type { ProviderEmulator } from './provider-emulator';

/**
 * The providers behind a local CodePipeline's actions: CodeBuild, CodeDeploy and CloudFormation
 * emulators on loopback, and the scenario controls that link an action's run to a provider's
 * object, as CodePipeline does. "UnitTests ran CodeBuild build X, which failed in PROVISIONING"
 * is `providers.build({ pipeline, stage: 'Test', action: 'UnitTests' }, { phase: 'PROVISIONING' })`:
 * the build is in the CodeBuild emulator and the action's run carries its id as its
 * externalExecutionId (GetPipelineState, ListActionExecutions). The emulators follow the
 * pipelines' clock.
 */

/** One action of a stage: its latest run, or its run in `executionId`. */
export interface ActionAt {
  readonly pipeline: string;
  readonly stage: string;
  readonly action: string;
  readonly executionId?: string;
}

/** How a stack operation failed, as DescribeStackEvents will tell it. */
export interface StackFailure {
  /** The resource that failed. */
  readonly logicalResourceId: string;
  readonly resourceType: string;
  /** Its ResourceStatusReason: "Rate exceeded", "Internal Failure", a validation message, … */
  readonly reason: string;
  /** The operation that failed. @default UPDATE */
  readonly operation?: 'CREATE' | 'UPDATE';
  /** A hook that failed the resource. */
  readonly hook?: StackEventSpec['hook'];
}

/** Where each provider emulator answers. */
export interface ProviderEndpoints {
  readonly codebuild: string;
  readonly codedeploy: string;
  readonly cloudformation: string;
}

export class ProviderWorld {
  public readonly codebuild = new CodeBuildEmulator();
  public readonly codedeploy = new CodeDeployEmulator();
  public readonly cloudformation = new CloudFormationEmulator();

  public constructor(private readonly pipelines: PipelineWorld) {
    for (const emulator of this.emulators) {
      emulator.now = () => pipelines.now();
      emulator.account = pipelines.account;
      emulator.region = pipelines.region;
    }
  }

  public get emulators(): readonly ProviderEmulator[] {
    return [this.codebuild, this.codedeploy, this.cloudformation];
  }

  public async start(): Promise<ProviderEndpoints> {
    const [codebuild, codedeploy, cloudformation] = await Promise.all(this.emulators.map((e) => e.start()));
    return { codebuild: codebuild ?? '', codedeploy: codedeploy ?? '', cloudformation: cloudformation ?? '' };
  }

  /** Closes each emulator once the requests it is serving are answered. */
  public async stop(): Promise<void> {
    await Promise.all(this.emulators.map((e) => e.stop()));
  }

  public get endpoints(): ProviderEndpoints {
    return { codebuild: this.codebuild.endpoint, codedeploy: this.codedeploy.endpoint, cloudformation: this.cloudformation.endpoint };
  }

  /** The standard variables that point the SDK's clients at these emulators. */
  public environment(): Record<string, string> {
    const { codebuild, codedeploy, cloudformation } = this.endpoints;
    return {
      AWS_ENDPOINT_URL_CODEBUILD: codebuild,
      // The client's service id is "CodeDeploy": one word, so no underscore.
      AWS_ENDPOINT_URL_CODEDEPLOY: codedeploy,
      AWS_ENDPOINT_URL_CLOUDFORMATION: cloudformation,
    };
  }

  /** Requests the emulators are serving right now. */
  public get busy(): number {
    return this.emulators.reduce((n, e) => n + e.busy, 0);
  }

  /** Clears every emulator's objects, faults and recorded calls. */
  public reset(): void {
    for (const emulator of this.emulators) emulator.reset();
  }

  /**
   * The action's run is a CodeBuild build of its project (`spec.project`, else the action's
   * ProjectName, else the action's name), as `spec` describes it. Returns the build's id.
   */
  public build(at: ActionAt, spec: Omit<BuildSpec, 'project'> & { readonly project?: string } = {}): string {
    const { definition, run } = this.pipelines.action(at.pipeline, at.stage, at.action, at.executionId);
    const id = this.codebuild.putBuild({ ...spec, project: spec.project ?? definition.configuration?.ProjectName ?? at.action });
    run.externalExecutionId = id;
    return id;
  }

  /**
   * The action's run is a CodeDeploy deployment of its application (`spec.applicationName`,
   * else the action's ApplicationName, else the pipeline's name). Returns the deployment's id.
   */
  public deployment(at: ActionAt, spec: Omit<DeploymentSpec, 'applicationName'> & { readonly applicationName?: string } = {}): string {
    const { definition, run } = this.pipelines.action(at.pipeline, at.stage, at.action, at.executionId);
    const id = this.codedeploy.putDeployment({
      ...spec,
      applicationName: spec.applicationName ?? definition.configuration?.ApplicationName ?? at.pipeline,
      ...(definition.configuration?.DeploymentGroupName && !spec.deploymentGroupName
        ? { deploymentGroupName: definition.configuration.DeploymentGroupName }
        : {}),
    });
    run.externalExecutionId = id;
    return id;
  }

  /**
   * The action's run failed its stack (the action's StackName, else `<pipeline>-stack`): the
   * stack's events from the run's start tell which resource failed and why, and the rollback
   * after it. Returns the stack's name.
   */
  public stackFailure(at: ActionAt, failure: StackFailure): string {
    const { definition, run } = this.pipelines.action(at.pipeline, at.stage, at.action, at.executionId);
    const stackName = definition.configuration?.StackName ?? `${at.pipeline}-stack`;
    const op = failure.operation ?? 'UPDATE';
    const rollback = op === 'CREATE' ? 'ROLLBACK' : 'UPDATE_ROLLBACK';
    const resource = { logicalResourceId: failure.logicalResourceId, resourceType: failure.resourceType };
    const events: Omit<StackEventSpec, 'at'>[] = [
      { resourceStatus: `${op}_IN_PROGRESS`, reason: 'User Initiated' },
      { ...resource, resourceStatus: `${op}_IN_PROGRESS` },
      { ...resource, resourceStatus: `${op}_FAILED`, reason: failure.reason, ...(failure.hook ? { hook: failure.hook } : {}) },
      {
        resourceStatus: `${rollback}_IN_PROGRESS`,
        reason: `The following resource(s) failed to ${op.toLowerCase()}: [${failure.logicalResourceId}]. `,
      },
      { ...resource, resourceStatus: op === 'CREATE' ? 'DELETE_COMPLETE' : 'UPDATE_COMPLETE' },
      { resourceStatus: `${rollback}_COMPLETE` },
    ];
    // A second apart within the run's window (the run's start to its last change); same-time events keep their order.
    const start = run.startTime * 1000;
    const end = Math.max(start, run.lastStatusChange * 1000);
    this.cloudformation.putStackEvents(
      stackName,
      events.map((e, i) => ({ ...e, at: Math.min(start + i * 1000, end) })),
    );
    return stackName;
  }
}
