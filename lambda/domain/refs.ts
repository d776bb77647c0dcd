import type { Location } from '../../contract';

/**
 * A pipeline where it lives: the account and region its events come from, and its name. What a
 * retry budget is kept per, and what policies and pause switches are looked up by.
 */
export interface PipelineRef extends Location {
  readonly pipeline: string;
}

/**
 * One stage execution of a pipeline: what CodePipeline's stage calls name, and the unit the
 * ledger counts retries in (one record per stage execution).
 */
export interface StageRef extends PipelineRef {
  readonly stage: string;
  readonly executionId: string;
}

/** The stage execution a failure (or anything else that names one) is about, and nothing more. */
export function stageRefOf(of: StageRef): StageRef {
  return { account: of.account, region: of.region, pipeline: of.pipeline, stage: of.stage, executionId: of.executionId };
}
