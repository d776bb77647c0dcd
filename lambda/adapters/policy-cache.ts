import type { PolicyContext, PolicyReader } from '../ports';

/**
 * Keeps what the policy store answered for a short time per (pipeline, stage), so a warm
 * instance handling a burst of failures reads policies and pause switches once, not per event.
 * A CLI change (or a pause) therefore takes effect within `ttlSeconds`.
 */
export class CachedPolicyReader implements PolicyReader {
  private readonly cache = new Map<string, { at: number; value: Promise<PolicyContext> }>();

  public constructor(
    private readonly inner: PolicyReader,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  public load(pipeline: string, stage: string): Promise<PolicyContext> {
    if (this.ttlSeconds <= 0) return this.inner.load(pipeline, stage);
    const key = `${pipeline}#${stage}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttlSeconds * 1000) return hit.value;
    const value = this.inner.load(pipeline, stage);
    this.cache.set(key, { at: this.now(), value });
    // A failed read is not remembered: the next event tries again.
    value.catch(() => this.cache.delete(key));
    if (this.cache.size > 1000) this.cache.delete(this.cache.keys().next().value as string);
    return value;
  }
}
