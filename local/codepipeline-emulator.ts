import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer } from './loopback-server';

/**
 * A local CodePipeline that speaks the service's AWS JSON 1.1 wire protocol
 * (POST /, X-Amz-Target: CodePipeline_20150709.<Operation>) and follows its state rules for
 * the operations we use: GetPipelineState, GetPipeline, RetryStageExecution. Tests drive
 * pipelines through failures and retries and can inject faults per operation.
 */

export interface ActionDefinition {
  readonly name: string;
  readonly category: 'Source' | 'Build' | 'Test' | 'Deploy' | 'Approval' | 'Invoke' | 'Compute';
  readonly provider: string;
  readonly owner?: string;
  readonly configuration?: Readonly<Record<string, string>>;
}

export interface StageDefinition {
  readonly name: string;
  readonly actions: readonly ActionDefinition[];
  /** V2 pipelines: CodePipeline's own automatic retry of the stage. */
  readonly onFailure?: { readonly result: 'RETRY' | 'ROLLBACK' | 'FAIL'; readonly retryMode?: 'FAILED_ACTIONS' | 'ALL_ACTIONS' };
}

export interface PipelineDefinition {
  readonly name: string;
  readonly stages: readonly StageDefinition[];
}

type StageStatus = 'InProgress' | 'Failed' | 'Succeeded' | 'Stopped' | 'Stopping' | 'Cancelled';
type ActionStatus = 'InProgress' | 'Abandoned' | 'Succeeded' | 'Failed';

interface ActionState {
  status: ActionStatus;
  actionExecutionId: string;
  errorCode?: string;
  message?: string;
  lastStatusChange: number;
}

interface StageState {
  executionId?: string;
  status?: StageStatus;
  actions: Map<string, ActionState>;
  /** Pipeline version when the stage last failed: a retry after a structure change is refused. */
  failedAtVersion?: number;
  retryRunning: boolean;
  /** RetryStageExecution calls accepted for the current execution. */
  manualRetries: number;
  /** CodePipeline's own onFailure retries of the current execution. */
  autoRetries: number;
  lastRetryMode?: string;
  lastRetryTrigger?: 'AutomatedStageRetry' | 'ManualStageRetry';
}

interface PipelineModel {
  definition: PipelineDefinition;
  version: number;
  created: number;
  updated: number;
  stages: Map<string, StageState>;
  /** Execution id → attempt number (grows with every stage retry). */
  executions: Map<string, number>;
}

export type Fault =
  | { readonly kind: 'throttle' }
  | { readonly kind: 'server-error' }
  | { readonly kind: 'exception'; readonly name: string; readonly message?: string }
  | { readonly kind: 'latency'; readonly ms: number };

export interface RecordedCall {
  readonly operation: string;
  readonly input: Record<string, unknown>;
  readonly status: number;
  readonly error?: string;
  /** Epoch milliseconds on the emulator's clock. */
  readonly at: number;
  /** For an accepted RetryStageExecution: the messages of the actions it re-ran. */
  readonly retriedFailures?: readonly string[];
}

class ServiceError extends Error {
  public constructor(
    public readonly type: string,
    message: string,
    public readonly status = 400,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z0-9.@\-_]{1,100}$/;
const EXECUTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class CodePipelineEmulator extends LoopbackServer {
  private readonly pipelines = new Map<string, PipelineModel>();
  private readonly faults = new Map<string, Fault[]>();
  public readonly calls: RecordedCall[] = [];
  /** Epoch milliseconds; tests may replace it to line up with an injected clock. */
  public now: () => number = () => Date.now();
  public account = '123456789012';
  public region = 'us-east-1';

  /** Clears pipelines, faults and recorded calls between tests. */
  public reset(): void {
    this.pipelines.clear();
    this.faults.clear();
    this.calls.length = 0;
  }

  // ---- scenario controls ------------------------------------------------------------------

  public createPipeline(definition: PipelineDefinition): void {
    const stages = new Map<string, StageState>();
    for (const stage of definition.stages) {
      stages.set(stage.name, { actions: new Map(), retryRunning: false, manualRetries: 0, autoRetries: 0 });
    }
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
  public failNewExecution(
    pipeline: string,
    stage: string,
    failedActions: readonly string[],
    error: { code?: string; message?: string } = {},
  ): string {
    const executionId = randomUUID();
    this.model(pipeline).executions.set(executionId, 1);
    this.failStage(pipeline, stage, executionId, failedActions, error);
    return executionId;
  }

  /** `stage` of `executionId` fails with the given actions failed and the others succeeded. */
  public failStage(
    pipeline: string,
    stage: string,
    executionId: string,
    failedActions: readonly string[],
    error: { code?: string; message?: string } = {},
  ): void {
    const { p, s } = this.enterStage(pipeline, stage, executionId);
    s.status = 'Failed';
    s.failedAtVersion = p.version;
    s.retryRunning = false;
    const at = this.seconds();
    for (const action of this.definitionOf(p, stage).actions) {
      const failed = failedActions.includes(action.name);
      const previous = s.actions.get(action.name);
      // An action that did not run again keeps its execution; one that ran again gets a new one.
      const reran = !previous || previous.status === 'InProgress';
      s.actions.set(action.name, {
        status: failed ? 'Failed' : 'Succeeded',
        actionExecutionId: reran ? randomUUID() : previous.actionExecutionId,
        lastStatusChange: at,
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
    const { p, s } = this.enterStage(pipeline, stage, executionId);
    s.status = status;
    for (const action of this.definitionOf(p, stage).actions) {
      const wanted = actionStatuses[action.name];
      const previous = s.actions.get(action.name);
      if (wanted) {
        s.actions.set(action.name, {
          status: wanted,
          actionExecutionId: previous?.actionExecutionId ?? randomUUID(),
          lastStatusChange: this.seconds(),
        });
      }
    }
  }

  /** CodePipeline's own onFailure: RETRY kicks in for the failed stage (once, at once). */
  public nativeRetry(pipeline: string, stage: string): void {
    const p = this.model(pipeline);
    const s = this.stageState(p, stage);
    const mode = this.definitionOf(p, stage).onFailure?.retryMode ?? 'FAILED_ACTIONS';
    if (s.status !== 'Failed' || !s.executionId) throw new Error(`stage ${stage} of ${pipeline} has not failed`);
    this.startRetry(p, s, s.executionId, mode);
    s.autoRetries += 1;
    s.manualRetries -= 1;
    s.lastRetryTrigger = 'AutomatedStageRetry';
  }

  /** A person clicks Retry in the console (RetryStageExecution, not made by us). */
  public retryByHand(pipeline: string, stage: string, retryMode: 'FAILED_ACTIONS' | 'ALL_ACTIONS' = 'FAILED_ACTIONS'): void {
    const p = this.model(pipeline);
    const s = this.stageState(p, stage);
    if (s.status !== 'Failed' || !s.executionId) throw new Error(`stage ${stage} of ${pipeline} has not failed`);
    this.startRetry(p, s, s.executionId, retryMode);
  }

  /** Finishes the retry that is running in `stage`: its re-run actions succeed or fail. */
  public finishRetry(
    pipeline: string,
    stage: string,
    result: 'Succeeded' | 'Failed',
    error: { code?: string; message?: string } = {},
  ): void {
    const p = this.model(pipeline);
    const s = this.stageState(p, stage);
    if (!s.executionId || s.status !== 'InProgress') throw new Error(`stage ${stage} of ${pipeline} is not running`);
    if (result === 'Succeeded') {
      s.status = 'Succeeded';
      s.retryRunning = false;
      for (const a of s.actions.values())
        if (a.status === 'InProgress') Object.assign(a, { status: 'Succeeded', errorCode: undefined, message: undefined });
      return;
    }
    const rerun = [...s.actions.entries()].filter(([, a]) => a.status === 'InProgress').map(([name]) => name);
    this.failStage(pipeline, stage, s.executionId, rerun, error);
  }

  /** The EventBridge event CodePipeline would send for the stage's current failure. */
  public stageFailedEvent(pipeline: string, stage: string, at: Date = new Date(this.now())): Record<string, unknown> {
    const p = this.model(pipeline);
    const s = this.stageState(p, stage);
    if (!s.executionId) throw new Error(`stage ${stage} has not run`);
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
        'execution-id': s.executionId,
        'start-time': at.toISOString(),
        stage,
        state: 'FAILED',
        version: p.version,
        'pipeline-execution-attempt': p.executions.get(s.executionId) ?? 1,
      },
    };
  }

  /** The SUCCEEDED event CodePipeline sends when the stage's current execution succeeds. */
  public stageSucceededEvent(pipeline: string, stage: string, at: Date = new Date(this.now())): Record<string, unknown> {
    const event = this.stageFailedEvent(pipeline, stage, at) as { detail: Record<string, unknown> };
    const s = this.stageState(this.model(pipeline), stage);
    event.detail.state = 'SUCCEEDED';
    if (s.manualRetries + s.autoRetries > 0) event.detail['stage-last-retry-attempt-time'] = at.toISOString();
    return event;
  }

  /** The next call to `operation` (or the next `times` calls) meets this fault. */
  public injectFault(operation: string, fault: Fault, times = 1): void {
    const queue = this.faults.get(operation) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(operation, queue);
  }

  /** RetryStageExecution calls the service accepted. */
  public acceptedRetries(pipeline?: string): RecordedCall[] {
    return this.calls.filter(
      (c) => c.operation === 'RetryStageExecution' && c.status === 200 && (!pipeline || c.input.pipelineName === pipeline),
    );
  }

  public stageStatus(pipeline: string, stage: string): { executionId?: string; status?: string; retryMode?: string } {
    const s = this.stageState(this.model(pipeline), stage);
    return { executionId: s.executionId, status: s.status, retryMode: s.lastRetryMode };
  }

  // ---- wire protocol ------------------------------------------------------------------------

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await LoopbackServer.readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('CodePipeline_20150709.') ? target.slice('CodePipeline_20150709.'.length) : target;
    let input: Record<string, unknown> = {};
    try {
      if (req.method !== 'POST') throw new ServiceError('UnknownOperationException', 'only POST is supported');
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new ServiceError('SerializationException', 'Content-Type must be application/x-amz-json-1.1');
      }
      try {
        input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      } catch {
        throw new ServiceError('SerializationException', 'body is not JSON');
      }
      await this.applyFault(operation);
      const retriedFailures = operation === 'RetryStageExecution' ? this.failureMessages(input) : undefined;
      const output = this.dispatch(operation, input);
      this.calls.push({ operation, input, status: 200, at: this.now(), ...(retriedFailures ? { retriedFailures } : {}) });
      this.send(res, 200, output);
    } catch (error) {
      const e = error instanceof ServiceError ? error : new ServiceError('InternalFailure', String(error), 500);
      this.calls.push({ operation, input, status: e.status, error: e.type, at: this.now() });
      this.send(res, e.status, { __type: e.type, message: e.message });
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    LoopbackServer.sendJson(res, status, 'application/x-amz-json-1.1', body, randomUUID());
  }

  /**
   * Random faults on every operation: each call meets one with probability `rate`, drawn from
   * `random` (seed it for repeatable runs). Latency faults delay, the others fail the call.
   */
  public chaos: { rate: number; faults: readonly Fault[]; random: () => number } | undefined;

  private async applyFault(operation: string): Promise<void> {
    let fault = this.faults.get(operation)?.shift();
    if (!fault && this.chaos && this.chaos.random() < this.chaos.rate) {
      fault = this.chaos.faults[Math.floor(this.chaos.random() * this.chaos.faults.length)];
    }
    if (!fault) return;
    switch (fault.kind) {
      case 'latency':
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return;
      case 'throttle':
        throw new ServiceError('ThrottlingException', 'Rate exceeded');
      case 'server-error':
        throw new ServiceError('InternalFailure', 'We encountered an internal error. Please try again.', 500);
      case 'exception':
        throw new ServiceError(fault.name, fault.message ?? `${fault.name} (injected)`);
    }
  }

  private dispatch(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GetPipelineState':
        return this.getPipelineState(input);
      case 'GetPipeline':
        return this.getPipeline(input);
      case 'RetryStageExecution':
        return this.retryStageExecution(input);
      default:
        throw new ServiceError('UnknownOperationException', `operation ${operation} is not supported by the emulator`);
    }
  }

  private getPipelineState(input: Record<string, unknown>): unknown {
    const p = this.lookup(this.requireName(input.name, 'name'));
    return {
      pipelineName: p.definition.name,
      pipelineVersion: p.version,
      created: p.created,
      updated: p.updated,
      stageStates: p.definition.stages.map((stage) => {
        const s = this.stageState(p, stage.name);
        return {
          stageName: stage.name,
          inboundTransitionState: { enabled: true },
          ...(s.executionId ? { latestExecution: { pipelineExecutionId: s.executionId, status: s.status } } : {}),
          actionStates: stage.actions.map((action) => {
            const a = s.actions.get(action.name);
            return {
              actionName: action.name,
              ...(a
                ? {
                    latestExecution: {
                      actionExecutionId: a.actionExecutionId,
                      status: a.status,
                      lastStatusChange: a.lastStatusChange,
                      ...(a.errorCode ? { errorDetails: { code: a.errorCode, message: a.message }, summary: a.message } : {}),
                    },
                  }
                : {}),
            };
          }),
          ...(s.manualRetries + s.autoRetries > 0
            ? {
                retryStageMetadata: {
                  autoStageRetryAttempt: s.autoRetries,
                  manualStageRetryAttempt: s.manualRetries,
                  latestRetryTrigger: s.lastRetryTrigger,
                },
              }
            : {}),
        };
      }),
    };
  }

  private getPipeline(input: Record<string, unknown>): unknown {
    const p = this.lookup(this.requireName(input.name, 'name'));
    if (input.version !== undefined && input.version !== p.version) {
      throw new ServiceError('PipelineVersionNotFoundException', `version ${String(input.version)} of ${p.definition.name} not found`);
    }
    return {
      pipeline: {
        name: p.definition.name,
        roleArn: `arn:aws:iam::${this.account}:role/pipeline`,
        version: p.version,
        pipelineType: 'V2',
        executionMode: 'SUPERSEDED',
        stages: p.definition.stages.map((stage) => ({
          name: stage.name,
          actions: stage.actions.map((a) => ({
            name: a.name,
            runOrder: 1,
            actionTypeId: { category: a.category, owner: a.owner ?? 'AWS', provider: a.provider, version: '1' },
            configuration: a.configuration ?? {},
          })),
          ...(stage.onFailure
            ? {
                onFailure: {
                  result: stage.onFailure.result,
                  ...(stage.onFailure.retryMode ? { retryConfiguration: { retryMode: stage.onFailure.retryMode } } : {}),
                },
              }
            : {}),
        })),
      },
      metadata: {
        pipelineArn: `arn:aws:codepipeline:${this.region}:${this.account}:${p.definition.name}`,
        created: p.created,
        updated: p.updated,
      },
    };
  }

  private retryStageExecution(input: Record<string, unknown>): unknown {
    const pipelineName = this.requireName(input.pipelineName, 'pipelineName');
    const stageName = this.requireName(input.stageName, 'stageName');
    const executionId = input.pipelineExecutionId;
    if (typeof executionId !== 'string' || !EXECUTION_ID.test(executionId)) {
      throw new ServiceError(
        'ValidationException',
        "1 validation error detected: Value at 'pipelineExecutionId' failed to satisfy constraint",
      );
    }
    const retryMode = input.retryMode;
    if (retryMode !== 'FAILED_ACTIONS' && retryMode !== 'ALL_ACTIONS') {
      throw new ServiceError('ValidationException', "1 validation error detected: Value at 'retryMode' failed to satisfy constraint");
    }
    const p = this.lookup(pipelineName);
    if (!p.stages.has(stageName)) {
      throw new ServiceError('StageNotFoundException', `Stage ${stageName} not found in pipeline ${pipelineName}`);
    }
    const s = this.stageState(p, stageName);
    if (!p.executions.has(executionId)) {
      throw new ServiceError('PipelineExecutionNotFoundException', `Execution ${executionId} not found`);
    }
    if (s.executionId !== executionId) {
      throw new ServiceError(
        'NotLatestPipelineExecutionException',
        `Execution ${executionId} is not the latest execution of stage ${stageName}`,
      );
    }
    if (s.retryRunning && s.status === 'InProgress') {
      throw new ServiceError('ConflictException', `A retry of stage ${stageName} is already in progress`);
    }
    if (s.status !== 'Failed') {
      throw new ServiceError('StageNotRetryableException', `Stage ${stageName} is ${s.status ?? 'not started'}, not Failed`);
    }
    const actions = [...s.actions.values()];
    if (actions.some((a) => a.status === 'InProgress')) {
      throw new ServiceError('StageNotRetryableException', `Stage ${stageName} has actions in progress`);
    }
    if (!actions.some((a) => a.status === 'Failed')) {
      throw new ServiceError('StageNotRetryableException', `Stage ${stageName} has no failed actions`);
    }
    if (s.failedAtVersion !== p.version) {
      throw new ServiceError('StageNotRetryableException', 'The pipeline structure changed after the stage failed');
    }
    // Accepted: the stage runs again, and the execution's attempt count goes up.
    this.startRetry(p, s, executionId, retryMode);
    return { pipelineExecutionId: executionId };
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** `executionId` is (now) the stage's latest execution; a new execution starts its retry counts at zero. */
  private enterStage(pipeline: string, stage: string, executionId: string): { p: PipelineModel; s: StageState } {
    const p = this.model(pipeline);
    const s = this.stageState(p, stage);
    if (!p.executions.has(executionId)) p.executions.set(executionId, 1);
    if (s.executionId !== executionId) Object.assign(s, { manualRetries: 0, autoRetries: 0 });
    s.executionId = executionId;
    return { p, s };
  }

  private failureMessages(input: Record<string, unknown>): string[] {
    const p = this.pipelines.get(String(input.pipelineName));
    const s = p?.stages.get(String(input.stageName));
    return [...(s?.actions.values() ?? [])].filter((a) => a.status === 'Failed').map((a) => a.message ?? '');
  }

  private startRetry(p: PipelineModel, s: StageState, executionId: string, retryMode: string): void {
    s.status = 'InProgress';
    s.retryRunning = true;
    s.manualRetries += 1;
    s.lastRetryMode = retryMode;
    s.lastRetryTrigger = 'ManualStageRetry';
    p.executions.set(executionId, (p.executions.get(executionId) ?? 1) + 1);
    for (const a of s.actions.values()) {
      if (retryMode === 'ALL_ACTIONS' || a.status === 'Failed') {
        Object.assign(a, { status: 'InProgress', actionExecutionId: randomUUID(), errorCode: undefined, message: undefined });
      }
    }
  }

  private requireName(value: unknown, field: string): string {
    if (typeof value !== 'string' || !NAME.test(value)) {
      throw new ServiceError('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint`);
    }
    return value;
  }

  private lookup(name: string): PipelineModel {
    const p = this.pipelines.get(name);
    if (!p) throw new ServiceError('PipelineNotFoundException', `Account '${this.account}' does not have a pipeline with name '${name}'`);
    return p;
  }

  private model(name: string): PipelineModel {
    const p = this.pipelines.get(name);
    if (!p) throw new Error(`no pipeline ${name} in the emulator`);
    return p;
  }

  private stageState(p: PipelineModel, stage: string): StageState {
    const s = p.stages.get(stage);
    if (!s) throw new Error(`no stage ${stage} in ${p.definition.name}`);
    return s;
  }

  private definitionOf(p: PipelineModel, stage: string): StageDefinition {
    const d = p.definition.stages.find((s) => s.name === stage);
    if (!d) throw new Error(`no stage ${stage} in ${p.definition.name}`);
    return d;
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
