import {
  CodePipelineClient,
  ConcurrentPipelineExecutionsLimitExceededException,
  ConflictException,
  GetPipelineCommand,
  GetPipelineStateCommand,
  NotLatestPipelineExecutionException,
  PipelineExecutionNotFoundException,
  PipelineNotFoundException,
  RetryStageExecutionCommand,
  StageNotFoundException,
  StageNotRetryableException,
  ValidationException,
} from '@aws-sdk/client-codepipeline';
import { TransientFaultError } from '../domain/errors';
import type { ActionView, RetryMode } from '../domain/types';
import { type PipelinePort, type RetryCallOutcome, RetryCallResult, type StageLookup } from '../ports';

interface ActionType {
  readonly category: string | undefined;
  readonly provider: string | undefined;
  readonly actionMode: string | undefined;
}

interface StageStructure {
  readonly actions: Map<string, ActionType>;
  readonly nativeRetry: boolean;
}

/**
 * Reads live pipeline state and calls RetryStageExecution. Pipeline structures are cached by
 * pipeline version: a structure never changes without the version changing.
 */
export class CodePipelineAdapter implements PipelinePort {
  private readonly structures = new Map<string, StageStructure>();

  public constructor(private readonly client: CodePipelineClient = new CodePipelineClient({})) {}

  public async getStage(pipeline: string, stage: string): Promise<StageLookup> {
    const state = await this.call(() => this.client.send(new GetPipelineStateCommand({ name: pipeline })));
    if (state === 'no-pipeline') return { kind: 'no-pipeline' };
    const stageState = state.stageStates?.find((s) => s.stageName === stage);
    if (!stageState) return { kind: 'no-stage' };

    const structure = await this.structure(pipeline, state.pipelineVersion, stage);
    if (structure === 'no-pipeline') return { kind: 'no-pipeline' };
    const actions: ActionView[] = (stageState.actionStates ?? []).map((a) => {
      const type = a.actionName ? structure.actions.get(a.actionName) : undefined;
      return {
        name: a.actionName ?? '?',
        category: type?.category,
        provider: type?.provider,
        actionMode: type?.actionMode,
        status: a.latestExecution?.status,
        executionId: a.latestExecution?.actionExecutionId,
        errorCode: a.latestExecution?.errorDetails?.code,
        errorMessage: a.latestExecution?.errorDetails?.message,
        summary: a.latestExecution?.summary,
      };
    });
    const meta = stageState.retryStageMetadata;
    return {
      kind: 'found',
      view: {
        pipelineVersion: state.pipelineVersion,
        latestExecutionId: stageState.latestExecution?.pipelineExecutionId,
        status: stageState.latestExecution?.status,
        actions,
        nativeRetry: structure.nativeRetry,
        retryMetadata: meta ? { automatic: meta.autoStageRetryAttempt ?? 0, manual: meta.manualStageRetryAttempt ?? 0 } : undefined,
      },
    };
  }

  public async retryStage(pipeline: string, stage: string, executionId: string, retryMode: RetryMode): Promise<RetryCallOutcome> {
    try {
      await this.client.send(
        new RetryStageExecutionCommand({ pipelineName: pipeline, stageName: stage, pipelineExecutionId: executionId, retryMode }),
      );
      return { result: RetryCallResult.Started };
    } catch (error) {
      const refused = (result: RetryCallResult, e: Error): RetryCallOutcome => ({ result, error: e.name, message: e.message });
      if (error instanceof StageNotRetryableException) return refused(RetryCallResult.NotRetryable, error);
      if (error instanceof NotLatestPipelineExecutionException) return refused(RetryCallResult.NotLatest, error);
      if (error instanceof ConflictException || error instanceof ConcurrentPipelineExecutionsLimitExceededException) {
        return refused(RetryCallResult.Busy, error);
      }
      if (
        error instanceof PipelineNotFoundException ||
        error instanceof PipelineExecutionNotFoundException ||
        error instanceof StageNotFoundException ||
        error instanceof ValidationException
      ) {
        return refused(RetryCallResult.Permanent, error);
      }
      throw new TransientFaultError(`RetryStageExecution failed: ${describe(error)}`, { cause: error });
    }
  }

  private async structure(pipeline: string, version: number | undefined, stage: string): Promise<StageStructure | 'no-pipeline'> {
    const key = `${pipeline}@${version ?? '?'}#${stage}`;
    const cached = this.structures.get(key);
    if (cached) return cached;
    const got = await this.call(() => this.client.send(new GetPipelineCommand({ name: pipeline, version })));
    if (got === 'no-pipeline') return got;
    const declaration = got.pipeline?.stages?.find((s) => s.name === stage);
    const actions = new Map<string, ActionType>();
    for (const action of declaration?.actions ?? []) {
      actions.set(action.name ?? '?', {
        category: action.actionTypeId?.category,
        provider: action.actionTypeId?.provider,
        actionMode: action.configuration?.ActionMode,
      });
    }
    const structure: StageStructure = { actions, nativeRetry: declaration?.onFailure?.result === 'RETRY' };
    // Only versioned structures are immutable; an unknown version is fetched every time.
    if (version !== undefined) this.structures.set(key, structure);
    return structure;
  }

  private async call<T>(send: () => Promise<T>): Promise<T | 'no-pipeline'> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof PipelineNotFoundException) return 'no-pipeline';
      throw new TransientFaultError(`CodePipeline read failed: ${describe(error)}`, { cause: error });
    }
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
