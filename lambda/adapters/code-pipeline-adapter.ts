import {
  type ActionExecutionDetail,
  type CodePipelineClient,
  GetPipelineCommand,
  GetPipelineExecutionCommand,
  GetPipelineStateCommand,
  ListActionExecutionsCommand,
  PipelineNotFoundException,
  RetryStageExecutionCommand,
} from '@aws-sdk/client-codepipeline';
import type { RetryMode } from '../../policy/policy';
import { MemberRoleError, ThrottledError, TransientFaultError } from '../domain/errors';
import type { StageRef } from '../domain/refs';
import type { ActionRun, ActionView, OnFailure } from '../domain/types';
import { type PipelinePort, type RetryCallOutcome, RetryCallResult, type StageLookup } from '../ports';
import { classifyRetryError, describe, isThrottling } from './code-pipeline-errors';
import type { RateGate } from './shared-rate';

interface ActionType {
  readonly category: string | undefined;
  readonly provider: string | undefined;
  readonly actionMode: string | undefined;
  readonly configuration: Readonly<Record<string, string>> | undefined;
}

interface StageStructure {
  readonly actions: Map<string, ActionType>;
  readonly onFailure: OnFailure | undefined;
  readonly executionMode: string | undefined;
}

/** A failed execution's terminal statuses in GetPipelineExecution that mean its stage will not run again by itself. */
const EXECUTION_STOPPED = new Set(['Stopped', 'Stopping', 'Cancelled']);

/** The most runs ListActionExecutions gives in one page. */
export const ACTION_RUNS_PAGE = 100;

/** The most ListActionExecutions pages one look at an execution's runs reads (1,000 runs). */
export const MAX_ACTION_RUN_PAGES = 10;

/**
 * Reads live pipeline state and calls RetryStageExecution, in one account and region: its clients
 * are that account's and region's, and the router hands it only the refs that live there. Pipeline
 * structures are cached by pipeline version: a structure never changes without the version changing.
 *
 * RetryStageExecution is not safe to repeat, so it goes through its own client that never
 * resends (`maxAttempts: 1`); an unclear answer comes back as `ambiguous` for the service to
 * settle from the live state. Reads are safe to repeat and keep the SDK's retries.
 */
export class CodePipelineAdapter implements PipelinePort {
  private readonly structures = new Map<string, StageStructure>();

  public constructor(
    private readonly reads: CodePipelineClient,
    private readonly retries: CodePipelineClient,
    /** The deployment's shared CodePipeline request rate in this account and region. */
    private readonly rate: RateGate,
  ) {}

  public async getStage(ref: StageRef): Promise<StageLookup> {
    const { pipeline, stage, executionId } = ref;
    const state = await this.read(() => this.reads.send(new GetPipelineStateCommand({ name: pipeline })));
    if (state === 'no-pipeline') return { kind: 'no-pipeline' };
    const stageState = state.stageStates?.find((s) => s.stageName === stage);
    if (!stageState) return { kind: 'no-stage' };

    const structure = await this.structure(pipeline, state.pipelineVersion, stage);
    if (structure === 'no-pipeline') return { kind: 'no-pipeline' };
    const latest = stageState.latestExecution?.pipelineExecutionId;
    if (structure.executionMode === 'PARALLEL' && latest !== undefined && latest !== executionId) {
      // Executions run side by side: the stage's latest run may be another's. Judge ours by its own.
      return this.executionStage(pipeline, stage, executionId, state.pipelineVersion, structure);
    }
    const actions: ActionView[] = (stageState.actionStates ?? []).map((a) => ({
      name: a.actionName ?? '?',
      ...this.typeOf(structure, a.actionName),
      status: a.latestExecution?.status,
      executionId: a.latestExecution?.actionExecutionId,
      errorCode: a.latestExecution?.errorDetails?.code,
      errorMessage: a.latestExecution?.errorDetails?.message,
      summary: a.latestExecution?.summary,
      changedAt: a.latestExecution?.lastStatusChange,
      externalExecutionId: a.latestExecution?.externalExecutionId,
    }));
    const meta = stageState.retryStageMetadata;
    return {
      kind: 'found',
      view: {
        pipelineVersion: state.pipelineVersion,
        latestExecutionId: latest,
        status: stageState.latestExecution?.status,
        actions,
        onFailure: structure.onFailure,
        retryMetadata: meta ? { automatic: meta.autoStageRetryAttempt ?? 0, manual: meta.manualStageRetryAttempt ?? 0 } : undefined,
        executionMode: structure.executionMode,
      },
    };
  }

  public async retryStage(ref: StageRef, retryMode: RetryMode): Promise<RetryCallOutcome> {
    const { pipeline, stage, executionId } = ref;
    // Not sent yet: waiting for our turn (or failing to get one) is never an unclear answer.
    let turn: boolean;
    try {
      turn = await this.rate.acquire();
    } catch (error) {
      // DynamoDB throttled or failed the rate item: the call was not sent, so the claim waits and comes back.
      if (error instanceof ThrottledError || error instanceof TransientFaultError) {
        return { result: RetryCallResult.Throttled, error: 'Paced', message: error.message };
      }
      throw error;
    }
    if (!turn) return { result: RetryCallResult.Throttled, error: 'Paced', message: 'held back by the shared request rate' };
    try {
      await this.retries.send(
        new RetryStageExecutionCommand({ pipelineName: pipeline, stageName: stage, pipelineExecutionId: executionId, retryMode }),
      );
      return { result: RetryCallResult.Started };
    } catch (error) {
      // No role, no call: the request was never sent, so this is not an unclear answer.
      if (error instanceof MemberRoleError) throw error;
      // STS throttled the role's credentials: not sent either, so the claim waits like a throttled call.
      if (error instanceof ThrottledError) return { result: RetryCallResult.Throttled, error: error.name, message: error.message };
      const outcome = classifyRetryError(error);
      if (outcome.result === RetryCallResult.Throttled) this.rate.throttled();
      return outcome;
    }
  }

  /**
   * Every run of the stage's actions in one execution (ListActionExecutions lists earlier runs
   * too, newest first): the evidence that decides whether an earlier retry took effect.
   */
  public async actionRuns(ref: StageRef): Promise<ActionRun[]> {
    const { pipeline, stage, executionId } = ref;
    const runs = await this.executionRuns(pipeline, executionId);
    if (runs === 'no-pipeline') return [];
    return runs
      .filter((r) => r.stageName === stage && r.actionName)
      .map((r) => ({
        actionName: r.actionName ?? '?',
        actionExecutionId: r.actionExecutionId,
        startedAt: r.startTime,
        externalExecutionId: r.output?.executionResult?.externalExecutionId,
      }));
  }

  /**
   * Every action run of one execution, all stages, following nextToken: a long pipeline retried
   * a few times has more than one page of 100. At most MAX_ACTION_RUN_PAGES pages (each a paced
   * read); the newest runs come first, so a bound that is reached leaves out only the oldest.
   */
  private async executionRuns(pipeline: string, executionId: string): Promise<ActionExecutionDetail[] | 'no-pipeline'> {
    const runs: ActionExecutionDetail[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_ACTION_RUN_PAGES; page++) {
      const answer = await this.read(() =>
        this.reads.send(
          new ListActionExecutionsCommand({
            pipelineName: pipeline,
            filter: { pipelineExecutionId: executionId },
            maxResults: ACTION_RUNS_PAGE,
            nextToken,
          }),
        ),
      );
      if (answer === 'no-pipeline') return answer;
      runs.push(...(answer.actionExecutionDetails ?? []));
      nextToken = answer.nextToken;
      if (!nextToken) break;
    }
    return runs;
  }

  /** One execution's view of a stage in PARALLEL mode: its status and its own action executions. */
  private async executionStage(
    pipeline: string,
    stage: string,
    executionId: string,
    pipelineVersion: number | undefined,
    structure: StageStructure,
  ): Promise<StageLookup> {
    const execution = await this.read(() =>
      this.reads.send(new GetPipelineExecutionCommand({ pipelineName: pipeline, pipelineExecutionId: executionId })),
    );
    if (execution === 'no-pipeline') return { kind: 'no-pipeline' };
    const runs = await this.executionRuns(pipeline, executionId);
    if (runs === 'no-pipeline') return { kind: 'no-pipeline' };
    // Newest first: the first run of each action is its latest.
    const latestByAction = new Map<string, ActionExecutionDetail>();
    const ordered = [...runs].sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0));
    for (const run of ordered) {
      if (run.stageName === stage && run.actionName && !latestByAction.has(run.actionName)) latestByAction.set(run.actionName, run);
    }
    const actions: ActionView[] = [...latestByAction.entries()].map(([name, run]) => ({
      name,
      ...this.typeOf(structure, name),
      status: run.status,
      executionId: run.actionExecutionId,
      errorCode: run.output?.executionResult?.errorDetails?.code,
      errorMessage: run.output?.executionResult?.errorDetails?.message,
      summary: run.output?.executionResult?.externalExecutionSummary,
      changedAt: run.lastUpdateTime,
      externalExecutionId: run.output?.executionResult?.externalExecutionId,
    }));
    const executionStatus = execution.pipelineExecution?.status;
    const status = EXECUTION_STOPPED.has(executionStatus ?? '')
      ? 'Stopped'
      : actions.some((a) => a.status === 'InProgress')
        ? 'InProgress'
        : actions.some((a) => a.status === 'Failed')
          ? 'Failed'
          : actions.length > 0
            ? 'Succeeded'
            : undefined;
    return {
      kind: 'found',
      view: {
        pipelineVersion: execution.pipelineExecution?.pipelineVersion ?? pipelineVersion,
        latestExecutionId: executionId,
        status,
        actions,
        onFailure: structure.onFailure,
        retryMetadata: undefined,
        executionMode: structure.executionMode,
      },
    };
  }

  private typeOf(structure: StageStructure, actionName: string | undefined): ActionType {
    const type = actionName ? structure.actions.get(actionName) : undefined;
    return { category: type?.category, provider: type?.provider, actionMode: type?.actionMode, configuration: type?.configuration };
  }

  private async structure(pipeline: string, version: number | undefined, stage: string): Promise<StageStructure | 'no-pipeline'> {
    const key = `${pipeline}@${version ?? '?'}#${stage}`;
    const cached = this.structures.get(key);
    if (cached) return cached;
    const got = await this.read(() => this.reads.send(new GetPipelineCommand({ name: pipeline, version })));
    if (got === 'no-pipeline') return got;
    const declaration = got.pipeline?.stages?.find((s) => s.name === stage);
    const actions = new Map<string, ActionType>();
    for (const action of declaration?.actions ?? []) {
      actions.set(action.name ?? '?', {
        category: action.actionTypeId?.category,
        provider: action.actionTypeId?.provider,
        actionMode: action.configuration?.ActionMode,
        configuration: action.configuration,
      });
    }
    const onFailure = declaration?.onFailure?.result
      ? { result: declaration.onFailure.result, conditional: (declaration.onFailure.conditions ?? []).length > 0 }
      : undefined;
    const structure: StageStructure = { actions, onFailure, executionMode: got.pipeline?.executionMode };
    // Only versioned structures are immutable; an unknown version is fetched every time.
    if (version !== undefined) this.structures.set(key, structure);
    if (this.structures.size > 2000) this.structures.delete(this.structures.keys().next().value as string);
    return structure;
  }

  /** A read, paced; throttling is ThrottledError, a missing pipeline 'no-pipeline', the rest a fault. */
  private async read<T>(send: () => Promise<T>): Promise<T | 'no-pipeline'> {
    if (!(await this.rate.acquire())) throw new ThrottledError('CodePipeline read held back by the shared request rate');
    try {
      return await send();
    } catch (error) {
      if (error instanceof MemberRoleError || error instanceof ThrottledError) throw error;
      if (error instanceof PipelineNotFoundException) return 'no-pipeline';
      if (isThrottling(error)) {
        this.rate.throttled();
        throw new ThrottledError(`CodePipeline throttled a read: ${describe(error)}`, { cause: error });
      }
      throw new TransientFaultError(`CodePipeline read failed: ${describe(error)}`, { cause: error });
    }
  }
}
