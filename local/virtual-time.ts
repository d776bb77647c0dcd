import type { ManualClock } from './local-aws';

/**
 * Simulated waits: `sleep` resolves when the manual clock reaches its time, and the clock moves
 * there by itself once nothing else can happen first — no request is being served by the local
 * services for a few turns of the event loop. So a wait inside an invocation (a turn at the
 * shared request rate) costs simulated time, not real time, and concurrent waits overlap as they
 * would on AWS.
 */
export class VirtualTime {
  private readonly sleepers: { at: number; wake: () => void }[] = [];
  private ticking = false;

  public constructor(
    private readonly clock: ManualClock,
    /** Requests being served right now by the local services. */
    private readonly busy: () => number,
  ) {}

  public readonly sleep = (ms: number): Promise<void> =>
    new Promise<void>((wake) => {
      this.sleepers.push({ at: this.clock.current + ms, wake });
      this.tick();
    });

  /** Watches the event loop while anyone sleeps; moves the clock when it has been quiet for three turns. */
  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    let quiet = 0;
    const turn = () => {
      if (this.sleepers.length === 0) {
        this.ticking = false;
        return;
      }
      quiet = this.busy() === 0 ? quiet + 1 : 0;
      if (quiet >= 3) {
        quiet = 0;
        const at = Math.min(...this.sleepers.map((s) => s.at));
        if (at > this.clock.current) this.clock.current = at;
        for (const s of this.sleepers.filter((s) => s.at <= this.clock.current)) {
          this.sleepers.splice(this.sleepers.indexOf(s), 1);
          s.wake();
        }
      }
      setImmediate(turn);
    };
    setImmediate(turn);
  }
}
