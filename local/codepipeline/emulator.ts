import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer } from '../loopback-server';
import { PipelineWorld, ServiceError } from './world';

/**
 * A local CodePipeline that speaks the service's AWS JSON 1.1 wire protocol
 * (POST /, X-Amz-Target: CodePipeline_20150709.<Operation>) and follows its state rules for
 * the operations we use: GetPipelineState, GetPipeline, GetPipelineExecution,
 * ListActionExecutions and RetryStageExecution. Tests drive pipelines through failures and
 * retries (the scenario controls of PipelineWorld) and give it the service's faults: throttling
 * (injected, or an account-wide request rate), 5xx, latency, a dropped connection, and a call
 * that takes effect but whose answer is lost (a 500 or a cut connection after acceptance).
 */

export type Fault =
  | { readonly kind: 'throttle' }
  | { readonly kind: 'server-error' }
  | { readonly kind: 'exception'; readonly name: string; readonly message?: string }
  | { readonly kind: 'latency'; readonly ms: number }
  /** The connection is cut before the call is read: it never took effect. */
  | { readonly kind: 'reset' }
  /** The call takes effect, then the answer is an HTTP 500. */
  | { readonly kind: 'accepted-then-500' }
  /** The call takes effect, then the connection is cut before any answer. */
  | { readonly kind: 'accepted-then-reset' };

/** A GetPipelineState answer kept for later (opaque to tests). */
export type PipelineStateAnswer = { readonly __brand: 'PipelineStateAnswer' };

/** An account-wide request rate: a token bucket shared by every caller, on the emulator's clock. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

export interface RecordedCall {
  readonly operation: string;
  readonly input: Record<string, unknown>;
  readonly status: number;
  readonly error?: string;
  /** Epoch milliseconds on the emulator's clock. */
  readonly at: number;
  /** For an accepted RetryStageExecution: the messages of the actions it re-ran. */
  readonly retriedFailures?: readonly string[];
  /** The call took effect but its answer was lost this way. */
  readonly lostReply?: '500' | 'reset';
}

const NAME = /^[A-Za-z0-9.@\-_]{1,100}$/;
const EXECUTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TARGET_PREFIX = 'CodePipeline_20150709.';

/** The HTTP side: one loopback server per emulator. */
class Wire extends LoopbackServer {
  public constructor(private readonly serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
    super();
  }

  protected handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.serve(req, res);
  }
}

export class CodePipelineEmulator extends PipelineWorld {
  private readonly wire = new Wire((req, res) => this.handle(req, res));
  /** Per operation, what its next calls meet: a fault, or undefined for a call that goes through. */
  private readonly faults = new Map<string, (Fault | undefined)[]>();
  public readonly calls: RecordedCall[] = [];
  /**
   * Random faults on every operation: each call meets one with probability `rate`, drawn from
   * `random` (seed it for repeatable runs). Latency faults delay, the others fail the call.
   */
  public chaos: { rate: number; faults: readonly Fault[]; random: () => number } | undefined;
  /** What a RetryStageExecution meets while a retry of the stage runs: the service answers either. */
  public retryWhileRunning: 'conflict' | 'not-retryable' = 'conflict';
  private limit: { readonly rate: RateLimit; tokens: number; at: number } | undefined;
  /** Pipelines whose GetPipelineState answers lag behind: the state as it was, for so many more reads. */
  private readonly lagging = new Map<string, { readonly state: unknown; reads: number }>();
  /**
   * The account and region this endpoint serves, as a regional endpoint of one account would:
   * a request signed for another region, or with credentials of another account, is refused.
   * Unset (the default), every caller is served, as the single-account tests want.
   */
  public tenant:
    | { readonly account: string; readonly region: string; readonly accountOf: (accessKeyId: string) => string | undefined }
    | undefined;

  /** Every operation shares this request rate from now on (undefined: no limit); ThrottlingException beyond it. */
  public setRateLimit(rate: RateLimit | undefined): void {
    this.limit = rate ? { rate, tokens: rate.burst, at: this.now() } : undefined;
  }

  /**
   * GetPipelineState is eventually consistent: the next `reads` reads of `pipeline` answer with
   * its state as it is now, whatever happens to it meanwhile (the other operations see the truth).
   */
  public lagReads(pipeline: string, reads = Number.POSITIVE_INFINITY, state: PipelineStateAnswer = this.stateOf(pipeline)): void {
    this.lagging.set(pipeline, { state, reads });
  }

  /** GetPipelineState's answer for `pipeline` as it is now (the truth), to serve later with `lagReads`. */
  public stateOf(pipeline: string): PipelineStateAnswer {
    const lag = this.lagging.get(pipeline);
    this.lagging.delete(pipeline);
    try {
      return structuredClone(this.getPipelineState({ name: pipeline })) as PipelineStateAnswer;
    } finally {
      if (lag) this.lagging.set(pipeline, lag);
    }
  }

  /** The pipeline's reads show the truth again. */
  public catchUp(pipeline: string): void {
    this.lagging.delete(pipeline);
  }

  /** Calls answered with ThrottlingException, injected or by the rate limit. */
  public get throttled(): number {
    return this.calls.filter((c) => c.error === 'ThrottlingException').length;
  }

  public start(): Promise<string> {
    return this.wire.start();
  }

  public stop(): Promise<void> {
    return this.wire.stop();
  }

  public get endpoint(): string {
    return this.wire.endpoint;
  }

  public get port(): number {
    return this.wire.port;
  }

  /** Requests being served right now. */
  public get busy(): number {
    return this.wire.busy;
  }

  /** Clears pipelines, faults, limits and recorded calls between tests. */
  public reset(): void {
    this.pipelines.clear();
    this.faults.clear();
    this.calls.length = 0;
    this.limit = undefined;
    this.lagging.clear();
    this.chaos = undefined;
    this.retryWhileRunning = 'conflict';
  }

  /** The next call to `operation` (or the next `times` calls, after `skip` that go through) meets this fault. */
  public injectFault(operation: string, fault: Fault, times = 1, skip = 0): void {
    const queue = this.faults.get(operation) ?? [];
    for (let i = 0; i < skip; i++) queue.push(undefined);
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(operation, queue);
  }

  /** RetryStageExecution calls the service accepted. */
  public acceptedRetries(pipeline?: string): RecordedCall[] {
    return this.calls.filter(
      (c) => c.operation === 'RetryStageExecution' && c.status === 200 && (!pipeline || c.input.pipelineName === pipeline),
    );
  }

  // ---- wire protocol ------------------------------------------------------------------------

  /** SigV4's `Credential=<key>/<date>/<region>/<service>/aws4_request` names the caller and the region it signed for. */
  private checkCaller(authorization: string): void {
    if (!this.tenant) return;
    const scope = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\//.exec(authorization);
    if (!scope) throw new ServiceError('MissingAuthenticationTokenException', 'the request is not signed');
    const [, key = '', region] = scope;
    if (region !== this.tenant.region) {
      throw new ServiceError('InvalidSignatureException', `signed for ${region}, but this endpoint is ${this.tenant.region}`);
    }
    const account = this.tenant.accountOf(key);
    if (account === undefined)
      throw new ServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    if (account !== this.tenant.account) {
      throw new ServiceError(
        'AccessDeniedException',
        `credentials of account ${account} used at the endpoint of account ${this.tenant.account}`,
      );
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await LoopbackServer.readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
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
      this.checkCaller(String(req.headers.authorization ?? ''));
      this.takeToken();
      const fault = await this.applyFault(operation);
      if (fault === 'reset') {
        this.calls.push({ operation, input, status: 0, error: 'ConnectionReset', at: this.now() });
        req.socket.destroy();
        return;
      }
      const retriedFailures = operation === 'RetryStageExecution' ? this.failureMessages(input) : undefined;
      const output = this.dispatch(operation, input);
      const accepted = { operation, input, status: 200, at: this.now(), ...(retriedFailures ? { retriedFailures } : {}) };
      if (fault === 'accepted-then-reset') {
        // Took effect; the answer never leaves.
        this.calls.push({ ...accepted, lostReply: 'reset' });
        req.socket.destroy();
        return;
      }
      if (fault === 'accepted-then-500') {
        this.calls.push({ ...accepted, lostReply: '500' });
        this.send(res, 500, { __type: 'InternalFailure', message: 'We encountered an internal error. Please try again.' });
        return;
      }
      this.calls.push(accepted);
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

  /** The account-wide bucket: refilled at the rate since the last call, one token per call. */
  private takeToken(): void {
    const limit = this.limit;
    if (!limit) return;
    const now = this.now();
    limit.tokens = Math.min(limit.rate.burst, limit.tokens + ((now - limit.at) / 1000) * limit.rate.perSecond);
    limit.at = now;
    if (limit.tokens < 1) throw new ServiceError('ThrottlingException', 'Rate exceeded');
    limit.tokens -= 1;
  }

  /** Applies the next fault for `operation`; returns the ones that act after the call is read. */
  private async applyFault(operation: string): Promise<'reset' | 'accepted-then-500' | 'accepted-then-reset' | undefined> {
    let fault = this.faults.get(operation)?.shift();
    if (!fault && this.chaos && this.chaos.random() < this.chaos.rate) {
      fault = this.chaos.faults[Math.floor(this.chaos.random() * this.chaos.faults.length)];
    }
    if (!fault) return undefined;
    switch (fault.kind) {
      case 'reset':
      case 'accepted-then-500':
      case 'accepted-then-reset':
        return fault.kind;
      case 'latency':
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return undefined;
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
      case 'GetPipelineExecution':
        return this.getPipelineExecution(input);
      case 'ListActionExecutions':
        return this.listActionExecutions(input);
      default:
        throw new ServiceError('UnknownOperationException', `operation ${operation} is not supported by the emulator`);
    }
  }

  // ---- operations ---------------------------------------------------------------------------

  private getPipelineState(input: Record<string, unknown>): unknown {
    const lag = this.lagging.get(String(input.name));
    if (lag && lag.reads > 0) {
      lag.reads -= 1;
      return lag.state;
    }
    const p = this.lookup(this.requireName(input.name, 'name'));
    return {
      pipelineName: p.definition.name,
      pipelineVersion: p.version,
      created: p.created,
      updated: p.updated,
      stageStates: p.definition.stages.map((stage) => {
        const run = this.latestRun(p, stage.name);
        return {
          stageName: stage.name,
          inboundTransitionState: { enabled: true },
          ...(run ? { latestExecution: { pipelineExecutionId: run.executionId, status: run.status } } : {}),
          actionStates: stage.actions.map((action) => {
            const a = run?.actions.get(action.name);
            return {
              actionName: action.name,
              ...(a
                ? {
                    latestExecution: {
                      actionExecutionId: a.actionExecutionId,
                      status: a.status,
                      lastStatusChange: a.lastStatusChange,
                      ...(a.externalExecutionId ? { externalExecutionId: a.externalExecutionId } : {}),
                      ...(a.errorCode ? { errorDetails: { code: a.errorCode, message: a.message }, summary: a.message } : {}),
                    },
                  }
                : {}),
            };
          }),
          // The counters have a minimum of 1 in the API model: absent, not 0, when no retry happened.
          ...(run && run.manualRetries + run.autoRetries > 0
            ? {
                retryStageMetadata: {
                  autoStageRetryAttempt: run.autoRetries,
                  manualStageRetryAttempt: run.manualRetries,
                  latestRetryTrigger: run.lastRetryTrigger,
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
        executionMode: p.definition.executionMode ?? 'SUPERSEDED',
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
                  ...(stage.onFailure.conditions
                    ? {
                        conditions: [
                          {
                            result: stage.onFailure.result,
                            rules: [
                              {
                                name: 'OnlyOnWeekdays',
                                ruleTypeId: { category: 'Rule', owner: 'AWS', provider: 'LambdaInvoke', version: '1' },
                              },
                            ],
                          },
                        ],
                      }
                    : {}),
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
    if (!p.executions.has(executionId)) {
      throw new ServiceError('PipelineExecutionNotFoundException', `Execution ${executionId} not found`);
    }
    // In PARALLEL mode every execution's run of the stage is its own; otherwise only the latest counts.
    const parallel = p.definition.executionMode === 'PARALLEL';
    const run = parallel ? this.slot(p, stageName).runs.get(executionId) : this.latestRun(p, stageName);
    if (!run || run.executionId !== executionId) {
      if (parallel) throw new ServiceError('StageNotRetryableException', `Execution ${executionId} has not run stage ${stageName}`);
      throw new ServiceError(
        'NotLatestPipelineExecutionException',
        `Execution ${executionId} is not the latest execution of stage ${stageName}`,
      );
    }
    if (run.retryRunning && run.status === 'InProgress') {
      const message = `A retry of stage ${stageName} is already in progress`;
      throw new ServiceError(this.retryWhileRunning === 'conflict' ? 'ConflictException' : 'StageNotRetryableException', message);
    }
    // The user guide: the actions of a stage in a Stopped execution can be retried too.
    if (run.status !== 'Failed' && run.status !== 'Stopped') {
      throw new ServiceError('StageNotRetryableException', `Stage ${stageName} is ${run.status ?? 'not started'}, not Failed`);
    }
    const actions = [...run.actions.values()];
    if (actions.some((a) => a.status === 'InProgress')) {
      throw new ServiceError('StageNotRetryableException', `Stage ${stageName} has actions in progress`);
    }
    if (!actions.some((a) => a.status === 'Failed' || a.status === 'Abandoned')) {
      throw new ServiceError('StageNotRetryableException', `Stage ${stageName} has no failed actions`);
    }
    if (run.failedAtVersion !== p.version) {
      throw new ServiceError('StageNotRetryableException', 'The pipeline structure changed after the stage failed');
    }
    this.startRetry(p, run, retryMode);
    return { pipelineExecutionId: executionId };
  }

  private getPipelineExecution(input: Record<string, unknown>): unknown {
    const p = this.lookup(this.requireName(input.pipelineName, 'pipelineName'));
    const executionId = String(input.pipelineExecutionId ?? '');
    const execution = p.executions.get(executionId);
    if (!execution) throw new ServiceError('PipelineExecutionNotFoundException', `Execution ${executionId} not found`);
    return {
      pipelineExecution: {
        pipelineName: p.definition.name,
        pipelineVersion: p.version,
        pipelineExecutionId: executionId,
        status: execution.status,
        executionMode: p.definition.executionMode ?? 'SUPERSEDED',
        trigger: { triggerType: 'StartPipelineExecution' },
      },
    };
  }

  /** Every action run of one execution (filter.pipelineExecutionId), newest first, as the service lists them. */
  private listActionExecutions(input: Record<string, unknown>): unknown {
    const p = this.lookup(this.requireName(input.pipelineName, 'pipelineName'));
    const executionId = String((input.filter as { pipelineExecutionId?: unknown } | undefined)?.pipelineExecutionId ?? '');
    if (!p.executions.has(executionId)) throw new ServiceError('PipelineExecutionNotFoundException', `Execution ${executionId} not found`);
    const details = p.definition.stages.flatMap((stage) => {
      const run = this.slot(p, stage.name).runs.get(executionId);
      if (!run) return [];
      const current = [...run.actions.entries()].map(([name, a]) => ({ ...a, name }));
      return [...run.history, ...current].map((a) => {
        const definition = stage.actions.find((d) => d.name === a.name);
        return {
          pipelineExecutionId: executionId,
          actionExecutionId: a.actionExecutionId,
          pipelineVersion: p.version,
          stageName: stage.name,
          actionName: a.name,
          startTime: a.startTime,
          lastUpdateTime: a.lastStatusChange,
          status: a.status,
          input: {
            actionTypeId: {
              category: definition?.category,
              owner: definition?.owner ?? 'AWS',
              provider: definition?.provider,
              version: '1',
            },
            configuration: definition?.configuration ?? {},
          },
          output: {
            executionResult: {
              ...(a.message ? { externalExecutionSummary: a.message } : {}),
              ...(a.externalExecutionId ? { externalExecutionId: a.externalExecutionId } : {}),
              ...(a.errorCode ? { errorDetails: { code: a.errorCode, message: a.message } } : {}),
            },
          },
        };
      });
    });
    details.sort((a, b) => b.startTime - a.startTime);
    return this.page(details, input);
  }

  /**
   * One page of a list, as the service pages ListActionExecutions: at most `maxResults` (1 to
   * 100, default 100) and a `nextToken` while more remain; a token this list did not give is an
   * InvalidNextTokenException.
   */
  private page<T>(all: readonly T[], input: Record<string, unknown>): { actionExecutionDetails: T[]; nextToken?: string } {
    const size = input.maxResults === undefined ? 100 : Number(input.maxResults);
    if (!Number.isInteger(size) || size < 1 || size > 100) {
      throw new ServiceError('ValidationException', `maxResults ${String(input.maxResults)} is not between 1 and 100`);
    }
    const token = input.nextToken === undefined ? undefined : String(input.nextToken);
    const start = token === undefined ? 0 : Number(/^page-(\d+)$/.exec(token)?.[1] ?? Number.NaN);
    if (!Number.isInteger(start) || start > all.length) throw new ServiceError('InvalidNextTokenException', 'The next token is not valid');
    const end = start + size;
    return { actionExecutionDetails: all.slice(start, end), ...(end < all.length ? { nextToken: `page-${end}` } : {}) };
  }

  // ---- helpers ------------------------------------------------------------------------------

  private failureMessages(input: Record<string, unknown>): string[] {
    const p = this.pipelines.get(String(input.pipelineName));
    const run = p?.stages.has(String(input.stageName)) ? this.latestRun(p, String(input.stageName)) : undefined;
    return [...(run?.actions.values() ?? [])].filter((a) => a.status === 'Failed').map((a) => a.message ?? '');
  }

  private requireName(value: unknown, field: string): string {
    if (typeof value !== 'string' || !NAME.test(value)) {
      throw new ServiceError('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint`);
    }
    return value;
  }

  private lookup(name: string) {
    const p = this.pipelines.get(name);
    if (!p) throw new ServiceError('PipelineNotFoundException', `Account '${this.account}' does not have a pipeline with name '${name}'`);
    return p;
  }
}
