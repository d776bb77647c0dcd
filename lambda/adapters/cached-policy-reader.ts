import type { PipelineRef } from '../domain/refs';
import type { PolicyContext, PolicyReader } from '../ports';
import { contextOf, type PolicySnapshot, type PolicySnapshotSource } from './policy-reader';

/**
 * Keeps one snapshot of every policy and pause item for a short time, so a warm instance handling
 * a burst of failures (even of a thousand different pipelines) reads them once per period. A CLI
 * change (or a pause) therefore takes effect within `ttlSeconds`.
 */
export class CachedPolicyReader implements PolicyReader {
  private cached: { at: number; value: Promise<PolicySnapshot> } | undefined;

  public constructor(
    private readonly source: PolicySnapshotSource,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  public async load(pipeline: PipelineRef, stage: string): Promise<PolicyContext> {
    return contextOf(await this.snapshot(), pipeline.account, pipeline.pipeline, stage);
  }

  private snapshot(): Promise<PolicySnapshot> {
    if (this.ttlSeconds <= 0) return this.source.snapshot();
    if (this.cached && this.now() - this.cached.at < this.ttlSeconds * 1000) return this.cached.value;
    const value = this.source.snapshot();
    const entry = { at: this.now(), value };
    this.cached = entry;
    // A failed read is not remembered: the next event tries again.
    value.catch(() => {
      if (this.cached === entry) this.cached = undefined;
    });
    return value;
  }
}
