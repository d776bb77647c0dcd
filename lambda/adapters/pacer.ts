/**
 * Paces one instance's CodePipeline calls: a token bucket on the injected clock. The account's
 * CodePipeline quota is shared by everything in it, so the product spends at most the rate it
 * is given: the stack divides that rate among the function's concurrent instances.
 */
export class Pacer {
  private tokens: number;
  private at: number;

  public constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.at = now();
  }

  /** Takes a token if one is there; false means "hold the call back". */
  public take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** No pacing: every call goes. */
export const UNPACED = { take: () => true } as const satisfies Pick<Pacer, 'take'>;
