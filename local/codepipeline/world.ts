import { randomUUID } from 'node:crypto';

/**
 * The pipelines a local CodePipeline holds and the service's state rules for them: executions
 * running through stages, failures, retries (ours, by hand, CodePipeline's own) and what
 * RetryStageExecution refuses. Tests drive it through the scenario controls; the emulator
 * (./emulator.ts) serves the API operations over the wire.
 */

export type ActionCategory = 'Source' | 'Build' | 'Test' | 'Deploy' | 'Approval' | 'Invoke' | 'Compute';

export interface ActionDefinition {
  readonly name: string;
  readonly category: ActionCategory;
  readonly provider: string;
  readonly owner?: string;
  readonly configuration?: Readonly<Record<string, string>>;
}

export interface StageDefinition {
  readonly name: string;
  readonly actions: readonly ActionDefinition[];
  /**
   * V2 pipelines: what the stage does on failure by itself. With `conditions`, the result applies
   * only when a rule passes: the emulator's rule never does, so a conditional retry never comes.
   */
  readonly onFailure?: {
    readonly result: 'RETRY' | 'ROLLBACK' | 'FAIL';
    readonly retryMode?: 'FAILED_ACTIONS' | 'ALL_ACTIONS';
    readonly conditions?: boolean;
  };
}

export type ExecutionMode = 'SUPERSEDED' | 'QUEUED' | 'PARALLEL';

export interface PipelineDefinition {
  readonly name: string;
  readonly stages: readonly StageDefinition[];
  /** How executions share the pipeline. In PARALLEL mode they run side by side, each retryable on its own. */
  readonly executionMode?: ExecutionMode;
}

export type StageStatus = 'InProgress' | 'Failed' | 'Succeeded' | 'Stopped' | 'Stopping' | 'Cancelled';
export type ActionStatus = 'InProgress' | 'Abandoned' | 'Succeeded' | 'Failed';
export type RetryMode = 'FAILED_ACTIONS' | 'ALL_ACTIONS';

export interface ActionRun {
  status: ActionStatus;
  actionExecutionId: string;
  errorCode?: string;
  message?: string;
  /** Epoch seconds. */
  startTime: number;
  lastStatusChange: number;
  /** The provider's id of this run: a CodeBuild build id, a CodeDeploy deployment id (see ../provider-world.ts). */
  externalExecutionId?: string;
}

export type ExecutionStatus = 'InProgress' | 'Failed' | 'Succeeded' | 'Stopped' | 'Superseded';

export interface ExecutionModel {
  /** Grows with every stage retry: the events' pipeline-execution-attempt. */
  attempt: number;
  status: ExecutionStatus;
  readonly startTime: number;
}

/** One execution's run through one stage. */
export interface StageRun {
  readonly executionId: string;
  status?: StageStatus;
  readonly actions: Map<string, ActionRun>;
  /** Earlier runs of this stage's actions in this execution, oldest first (ListActionExecutions). */
  readonly history: (ActionRun & { readonly name: string })[];
  /** Pipeline version when the stage last failed: a retry after a structure change is refused. */
  failedAtVersion?: number;
  retryRunning: boolean;
  /** RetryStageExecution calls accepted for this run. */
  manualRetries: number;
  /** CodePipeline's own onFailure retries of this run. */
  autoRetries: number;
  lastRetryMode?: string;
  lastRetryTrigger?: 'AutomatedStageRetry' | 'ManualStageRetry';
}

export interface PipelineModel {
  readonly definition: PipelineDefinition;
  version: number;
  readonly created: number;
  updated: number;
  /** Stage name → the execution that entered it last, and each execution's run of it. */
  readonly stages: Map<string, { latest?: string; readonly runs: Map<string, StageRun> }>;
  readonly executions: Map<string, ExecutionModel>;
}

/** A refusal the service answers with: HTTP status and exception name. */
export class ServiceError extends Error {
  public constructor(
    public readonly type: string,
    message: string,
    public readonly status = 400,
  ) {
    super(message);
  }
}

export type ErrorDetails = { code?: string; message?: string };

export class PipelineWorld {
  protected readonly pipelines = new Map<string, PipelineModel>();
  /** Epoch milliseconds; tests may replace it to line up with an injected clock. */
  public now: () => number = () => Date.now();
  public account = '123456789012';
  public region = 'us-east-1';

  // ---- scenario controls ------------------------------------------------------------------

  public createPipeline(definition: PipelineDefinition): void {
    const stages = new Map(definition.stages.map((s) => [s.name, { runs: new Map<string, StageRun>() }]));
    const at = this.seconds();
    this.pipelines.set(definition.name, { definition, version: 1, created: at, updated: at, stages, executions: new Map() });
  }

  public hasPipeline(name: string): boolean {
    return this.pipelines.has(name);
  }

  /** Changes the structure (for example an action was edited): the version goes up. */
  public updatePipeline(name: string): void {
    const p = this.model(name);
    p.version += 1;
    p.updated = this.seconds();
  }

  /** Starts a new execution: every stage before `stage` succeeded, `stage` fails. Returns its id. */
  public failNewExecution(pipeline: string, stage: string, failedActions: readonly string[], error: ErrorDetails = {}): string {
    const executionId = randomUUID();
    this.model(pipeline).executions.set(executionId, { attempt: 1, status: 'InProgress', startTime: this.seconds() });
    this.failStage(pipeline, stage, executionId, failedActions, error);
    return executionId;
  }

  /** `stage` of `executionId` fails with the given actions failed and the others succeeded. */
  public failStage(pipeline: string, stage: string, executionId: string, failedActions: readonly string[], error: ErrorDetails = {}): void {
    const { p, run } = this.enterStage(pipeline, stage, executionId);
    run.status = 'Failed';
    run.failedAtVersion = p.version;
    run.retryRunning = false;
    this.execution(p, executionId).status = 'Failed';
    const at = this.seconds();
    for (const action of this.definitionOf(p, stage).actions) {
      const failed = failedActions.includes(action.name);
      const previous = run.actions.get(action.name);
      // An action that did not run again keeps its execution; one that ran again gets a new one.
      const reran = !previous || previous.status === 'InProgress';
      run.actions.set(action.name, {
        status: failed ? 'Failed' : 'Succeeded',
        actionExecutionId: reran ? randomUUID() : previous.actionExecutionId,
        startTime: reran ? at : previous.startTime,
        lastStatusChange: at,
        // A retry clears it when it starts: one still here names the run that now ends.
        ...(previous?.externalExecutionId ? { externalExecutionId: previous.externalExecutionId } : {}),
        ...(failed
          ? {
              errorCode: error.code ?? (action.category === 'Approval' ? 'Rejected' : 'JobFailed'),
              message: error.message ?? (action.category === 'Approval' ? 'Rejected by reviewer' : 'Build failed'),
            }
          : {}),
      });
    }
  }

  /** Puts a stage in a given status (InProgress actions, Stopped, Succeeded) for the execution. */
  public setStage(
    pipeline: string,
    stage: string,
    executionId: string,
    status: StageStatus,
    actionStatuses: Record<string, ActionStatus> = {},
  ): void {
    const { p, run } = this.enterStage(pipeline, stage, executionId);
    run.status = status;
    this.execution(p, executionId).status =
      status === 'Succeeded' ? 'Succeeded' : status === 'Failed' ? 'Failed' : status === 'Stopped' ? 'Stopped' : 'InProgress';
    for (const action of this.definitionOf(p, stage).actions) {
      const wanted = actionStatuses[action.name];
      if (!wanted) continue;
      const previous = run.actions.get(action.name);
      run.actions.set(action.name, {
        status: wanted,
        actionExecutionId: previous?.actionExecutionId ?? randomUUID(),
        startTime: previous?.startTime ?? this.seconds(),
        lastStatusChange: this.seconds(),
        ...(previous?.externalExecutionId ? { externalExecutionId: previous.externalExecutionId } : {}),
      });
    }
  }

  /** CodePipeline's own onFailure: RETRY kicks in for the failed stage (once, at once). */
  public nativeRetry(pipeline: string, stage: string): void {
    const p = this.model(pipeline);
    const run = this.failedLatestRun(p, stage);
    this.startRetry(p, run, this.definitionOf(p, stage).onFailure?.retryMode ?? 'FAILED_ACTIONS');
    run.autoRetries += 1;
    run.manualRetries -= 1;
    run.lastRetryTrigger = 'AutomatedStageRetry';
  }

  /** A person clicks Retry in the console (RetryStageExecution, not made by us). */
  public retryByHand(pipeline: string, stage: string, retryMode: RetryMode = 'FAILED_ACTIONS'): void {
    const p = this.model(pipeline);
    this.startRetry(p, this.failedLatestRun(p, stage), retryMode);
  }

  /** Finishes the retry that is running in `stage` (of the latest execution, or `executionId`'s): its re-run actions succeed or fail. */
  public finishRetry(
    pipeline: string,
    stage: string,
    result: 'Succeeded' | 'Failed',
    error: ErrorDetails = {},
    executionId?: string,
  ): void {
    const p = this.model(pipeline);
    const run = executionId ? this.slot(p, stage).runs.get(executionId) : this.latestRun(p, stage);
    if (run?.status !== 'InProgress') throw new Error(`stage ${stage} of ${pipeline} is not running`);
    if (result === 'Succeeded') {
      run.status = 'Succeeded';
      run.retryRunning = false;
      this.execution(p, run.executionId).status = 'Succeeded';
      for (const a of run.actions.values()) {
        if (a.status === 'InProgress') Object.assign(a, { status: 'Succeeded', errorCode: undefined, message: undefined });
      }
      return;
    }
    const rerun = [...run.actions.entries()].filter(([, a]) => a.status === 'InProgress').map(([name]) => name);
    this.failStage(pipeline, stage, run.executionId, rerun, error);
  }

  /** The EventBridge event CodePipeline would send for the stage's current failure (of the latest execution, or `executionId`'s). */
  public stageFailedEvent(pipeline: string, stage: string, at: Date = new Date(this.now()), executionId?: string): Record<string, unknown> {
    const p = this.model(pipeline);
    const run = executionId ? this.slot(p, stage).runs.get(executionId) : this.latestRun(p, stage);
    if (!run) throw new Error(`stage ${stage} has not run`);
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'CodePipeline Stage Execution State Change',
      source: 'aws.codepipeline',
      account: this.account,
      time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources: [`arn:aws:codepipeline:${this.region}:${this.account}:${pipeline}`],
      detail: {
        pipeline,
        'execution-id': run.executionId,
        'start-time': at.toISOString(),
        stage,
        state: 'FAILED',
        version: p.version,
        'pipeline-execution-attempt': p.executions.get(run.executionId)?.attempt ?? 1,
      },
    };
  }

  /** The SUCCEEDED event CodePipeline sends when the stage's current execution succeeds. */
  public stageSucceededEvent(pipeline: string, stage: string, at: Date = new Date(this.now())): Record<string, unknown> {
    const event = this.stageFailedEvent(pipeline, stage, at) as { detail: Record<string, unknown> };
    const run = this.latestRun(this.model(pipeline), stage);
    event.detail.state = 'SUCCEEDED';
    if (run && run.manualRetries + run.autoRetries > 0) event.detail['stage-last-retry-attempt-time'] = at.toISOString();
    return event;
  }

  /** An action's definition and its current run in the stage (of the latest execution, or `executionId`'s), to link to a provider's object. */
  public action(pipeline: string, stage: string, action: string, executionId?: string): { definition: ActionDefinition; run: ActionRun } {
    const p = this.model(pipeline);
    const definition = this.definitionOf(p, stage).actions.find((a) => a.name === action);
    const run = (executionId ? this.slot(p, stage).runs.get(executionId) : this.latestRun(p, stage))?.actions.get(action);
    if (!definition || !run) throw new Error(`action ${action} of ${pipeline}/${stage} has not run`);
    return { definition, run };
  }

  public stageStatus(pipeline: string, stage: string): { executionId?: string; status?: string; retryMode?: string } {
    const run = this.latestRun(this.model(pipeline), stage);
    return { executionId: run?.executionId, status: run?.status, retryMode: run?.lastRetryMode };
  }

  // ---- state rules shared by the API operations -------------------------------------------------

  /** `executionId` is (now) the stage's latest execution: its run of the stage, new if it had none. */
  protected enterStage(pipeline: string, stage: string, executionId: string): { p: PipelineModel; run: StageRun } {
    const p = this.model(pipeline);
    const slot = this.slot(p, stage);
    if (!p.executions.has(executionId)) p.executions.set(executionId, { attempt: 1, status: 'InProgress', startTime: this.seconds() });
    let run = slot.runs.get(executionId);
    if (!run) {
      run = { executionId, actions: new Map(), history: [], retryRunning: false, manualRetries: 0, autoRetries: 0 };
      slot.runs.set(executionId, run);
    }
    // Outside PARALLEL mode a newer execution entering the stage supersedes one still running.
    const previous = slot.latest && slot.latest !== executionId ? p.executions.get(slot.latest) : undefined;
    if (previous?.status === 'InProgress' && p.definition.executionMode !== 'PARALLEL') previous.status = 'Superseded';
    slot.latest = executionId;
    return { p, run };
  }

  /** The stage runs again: the failed actions (or all of them) start over, and the execution's attempt count goes up. */
  protected startRetry(p: PipelineModel, run: StageRun, retryMode: string): void {
    run.status = 'InProgress';
    run.retryRunning = true;
    run.manualRetries += 1;
    run.lastRetryMode = retryMode;
    run.lastRetryTrigger = 'ManualStageRetry';
    const execution = this.execution(p, run.executionId);
    execution.attempt += 1;
    execution.status = 'InProgress';
    const at = this.seconds();
    for (const [name, a] of run.actions) {
      // A stopped stage's actions are Abandoned; a retry re-runs them as it re-runs failed ones.
      if (retryMode === 'ALL_ACTIONS' || a.status === 'Failed' || a.status === 'Abandoned') {
        run.history.push({ ...a, name });
        Object.assign(a, {
          status: 'InProgress',
          actionExecutionId: randomUUID(),
          errorCode: undefined,
          message: undefined,
          externalExecutionId: undefined,
          startTime: at,
          lastStatusChange: at,
        });
      }
    }
  }

  protected execution(p: PipelineModel, executionId: string): ExecutionModel {
    const e = p.executions.get(executionId);
    if (!e) throw new Error(`no execution ${executionId} of ${p.definition.name}`);
    return e;
  }

  protected latestRun(p: PipelineModel, stage: string): StageRun | undefined {
    const slot = this.slot(p, stage);
    return slot.latest ? slot.runs.get(slot.latest) : undefined;
  }

  private failedLatestRun(p: PipelineModel, stage: string): StageRun {
    const run = this.latestRun(p, stage);
    if (run?.status !== 'Failed') throw new Error(`stage ${stage} of ${p.definition.name} has not failed`);
    return run;
  }

  protected model(name: string): PipelineModel {
    const p = this.pipelines.get(name);
    if (!p) throw new Error(`no pipeline ${name} in the emulator`);
    return p;
  }

  protected slot(p: PipelineModel, stage: string): { latest?: string; readonly runs: Map<string, StageRun> } {
    const s = p.stages.get(stage);
    if (!s) throw new Error(`no stage ${stage} in ${p.definition.name}`);
    return s;
  }

  protected definitionOf(p: PipelineModel, stage: string): StageDefinition {
    const d = p.definition.stages.find((s) => s.name === stage);
    if (!d) throw new Error(`no stage ${stage} in ${p.definition.name}`);
    return d;
  }

  protected seconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
