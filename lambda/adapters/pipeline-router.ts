import type { Location } from '../../contract';
import type { RetryMode } from '../../policy/policy';
import type { StageRef } from '../domain/refs';
import type { ActionRun } from '../domain/types';
import type { PipelinePort, RetryCallOutcome, StageLookup } from '../ports';
import type { CodePipelineAdapter } from './code-pipeline-adapter';
import type { TableNames } from './table-names';

/**
 * Sends each call to the pipeline's own account and region: the central account's pipelines
 * through the function's own clients, a member's through clients holding its role. One adapter
 * (clients, structure cache, share of the request rate) per account and region, made on first use, so throttling
 * and pacing are per account and region as CodePipeline's quotas are.
 */
export class PipelineRouter implements PipelinePort {
  private readonly adapters = new Map<string, CodePipelineAdapter>();

  public constructor(
    /** The central account's own adapter: every location in a single-account deployment (no `home`). */
    private readonly own: CodePipelineAdapter,
    /** Tells the deployment's own account and region from a member's. */
    private readonly names: TableNames,
    /** Makes the adapter of a member account and region. */
    private readonly connect: (at: Location) => CodePipelineAdapter,
  ) {}

  public getStage(ref: StageRef): Promise<StageLookup> {
    return this.adapter(ref).getStage(ref);
  }

  public retryStage(ref: StageRef, retryMode: RetryMode): Promise<RetryCallOutcome> {
    return this.adapter(ref).retryStage(ref, retryMode);
  }

  public actionRuns(ref: StageRef): Promise<ActionRun[]> {
    return this.adapter(ref).actionRuns(ref);
  }

  private adapter(at: Location): CodePipelineAdapter {
    if (this.names.isHome(at)) return this.own;
    const key = `${at.account}/${at.region}`;
    let adapter = this.adapters.get(key);
    if (!adapter) {
      adapter = this.connect(at);
      this.adapters.set(key, adapter);
    }
    return adapter;
  }
}
