import { CodePipelineAdapter } from '../../lambda/adapters/code-pipeline-adapter';
import { ThrottledError, TransientFaultError } from '../../lambda/domain/errors';
import { RetryCallResult } from '../../lambda/ports';
import { beyondBucket } from '../../local/fleet';
import { HEAVY_TEST_TIMEOUT_MS, seeded } from '../support';
import { inWindow, isRateWrite, useRateSuite } from '../support/rate-world';

/**
 * The shared request rate where it is hardest: faults on its own item at every step, instances
 * killed holding it, crowds, clocks that differ, a budget at either end of its range. (Found by an
 * adversarial review; each of these failed once.) Simulated time; budget 20 requests/s unless said.
 */
const suite = useRateSuite();
const world = suite.world;
const BUDGET = 20;

describe('SharedRate under faults and at the edges', () => {
  it.each([
    ['800 ms behind', -800],
    ['800 ms ahead', 800],
  ])('shares with an instance whose clock is %s', async (_case, skewMs) => {
    // Prepare
    const w = world();
    const skewed = w.instance({ skewMs });
    const other = w.instance();

    // Act
    const [a, b] = await Promise.all([w.spend(skewed, 0, 6_000), w.spend(other, 1_000, 6_000)]);

    // Assess: both about half, together within the budget.
    expect(inWindow(a, 2_000, 6_000)).toBeGreaterThanOrEqual(25);
    expect(inWindow(b, 2_000, 6_000)).toBeGreaterThanOrEqual(25);
    expect(beyondBucket([...a, ...b], BUDGET)).toBe(0);
  });

  it('gives every one of five instances with clocks up to 700 ms apart its turns, within the budget', async () => {
    // Prepare
    const w = world();
    const fleet = [-700, -300, 0, 300, 700].map((skewMs) => w.instance({ skewMs }));

    // Act
    const spent = await Promise.all(fleet.map((rate, i) => w.spend(rate, i * 300, 6_000)));

    // Assess
    expect(beyondBucket(spent.flat(), BUDGET)).toBe(0);
    for (const calls of spent) expect(inWindow(calls, 2_000, 6_000)).toBeGreaterThanOrEqual(8);
  });

  it('keeps a throttled answer that comes in while a renewal is in flight', async () => {
    // Prepare: the reservation has run out, so the next turn renews (a write in flight)…
    const w = world();
    const rate = w.instance();
    await w.spend(rate, 0, 1_000);
    await w.time.sleep(1_000);

    // Act: …while another call of the same invocation comes back throttled.
    const pending = rate.acquire();
    rate.throttled();
    await pending;
    await w.spend(rate, 2_000, 3_000);

    // Assess
    expect((await w.item())?.limit).toBe(14);
  });

  it('lowers the limit once for one throttled moment seen by two instances whose clocks differ by 1.5 s', async () => {
    // Prepare
    const w = world();
    const a = w.instance();
    const b = w.instance({ skewMs: 1_500 });
    await Promise.all([w.spend(a, 0, 1_000), w.spend(b, 0, 1_000)]);

    // Act
    a.throttled();
    b.throttled();
    for (let i = 0; i < 6; i++) await Promise.all([a.acquire(), b.acquire()]);

    // Assess
    expect((await w.item())?.limit).toBe(14);
  });

  it('frees the rate of an instance killed holding all of it within three seconds of its last turn', async () => {
    // Prepare: the first instance spends, then is gone (never renews).
    const w = world();
    await w.spend(w.instance(), 0, 1_000);

    // Act
    const calls = await w.spend(w.instance(), 1_000, 6_000);

    // Assess: its reservation (a second), and two more while it might only be late.
    expect(calls[0]).toBeLessThan(4_500);
    expect(inWindow(calls, 5_000, 6_000)).toBeGreaterThanOrEqual(BUDGET - 1);
  });

  it('frees the rate of an instance killed between its write and the answer', async () => {
    // Prepare
    const w = world();
    const dead = w.instance();
    await w.spend(dead, 0, 1_000);
    suite.proxy.inject({ match: isRateWrite, fault: 'apply-then-reset', times: 3 });
    await dead.acquire().catch(() => false);
    suite.proxy.clear();

    // Act
    const calls = await w.spend(w.instance(), 1_500, 6_000);

    // Assess
    expect(calls[0]).toBeLessThan(4_500);
  });

  it(
    'lets a crowd of 20 instances arriving at once in, each refused only with ThrottledError, within the budget',
    async () => {
      // Prepare
      const w = world();
      const fleet = Array.from({ length: 20 }, () => w.instance());

      // Act
      const first = await Promise.allSettled(fleet.map((rate) => rate.acquire()));
      const spent = await Promise.all(fleet.map((rate) => w.spend(rate, 0, 6_000, 500)));

      // Assess
      const refused = first.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(refused.every((r) => r.reason instanceof ThrottledError)).toBe(true);
      expect(refused.length).toBeLessThan(fleet.length / 2);
      expect(beyondBucket(spent.flat(), BUDGET)).toBe(0);
      // Settled within four seconds: then most of the budget is spent.
      expect(inWindow(spent.flat(), 4_000, 6_000)).toBeGreaterThanOrEqual(2 * BUDGET * 0.7);
    },
    HEAVY_TEST_TIMEOUT_MS,
  );

  it(
    'gets turns to a fleet of 6 at a budget of 1 request/s: shares too small to use take turns through the delay queue',
    async () => {
      // Prepare: a sixth of a request per second would not earn a turn within the inline wait.
      const w = world();
      const fleet = Array.from({ length: 6 }, () => w.instance({ budget: 1 }));

      // Act: work refused a turn comes back a second later.
      const spent = await Promise.all(fleet.map((rate) => w.spend(rate, 0, 20_000, 1_000)));

      // Assess
      // At most the budget, with a call of burst per sharer (each carries at most one turn).
      const calls = spent.flat();
      expect(calls.length).toBeGreaterThanOrEqual(12);
      expect(calls.length).toBeLessThanOrEqual(20 + spent.filter((c) => c.length > 0).length);
    },
    HEAVY_TEST_TIMEOUT_MS,
  );

  it('waits at least a second for a turn even when told to wait less', async () => {
    // Prepare
    const w = world();
    const rate = w.instance({ maxInlineWaitMs: 0 });

    // Act
    const calls = await w.spend(rate, 0, 10_000, 2_000);

    // Assess
    expect(calls.length).toBeGreaterThan(100);
  });

  it.each([
    ['alone', 1],
    ['shared by three', 3],
  ])('spends a budget of 1000 requests/s %s', async (_case, count) => {
    // Prepare
    const w = world();
    const fleet = Array.from({ length: count }, () => w.instance({ budget: 1000 }));

    // Act
    const spent = await Promise.all(fleet.map((rate) => w.spend(rate, 0, 2_000)));

    // Assess
    expect(inWindow(spent.flat(), 1_000, 2_000)).toBeGreaterThanOrEqual(900);
    expect(beyondBucket(spent.flat(), 1000)).toBe(0);
  });

  it(
    'answers only with a turn, ThrottledError or a DynamoDB fault, within the budget, when a fifth of the rate item’s requests meet a fault',
    async () => {
      // Prepare: lost answers, throttling, dropped connections and 5xx on every step of the rate item.
      const w = world();
      const fleet = Array.from({ length: 4 }, () => w.instance());
      suite.proxy.chaos = {
        rate: 0.2,
        random: seeded(20),
        faults: ['apply-then-500', 'throttle', 'reset', 'server-error', 'apply-then-reset'],
        match: (c) => JSON.stringify(c.input).includes('"RATE"'),
      };
      const errors: unknown[] = [];

      // Act
      const spent = await Promise.all(
        fleet.map(async (rate) => {
          const calls: number[] = [];
          while (w.clock.current < w.t0 + 5_000) {
            try {
              if (await rate.acquire()) calls.push(w.clock.current - w.t0);
            } catch (error) {
              errors.push(error);
              await w.time.sleep(50);
            }
          }
          return calls;
        }),
      );
      suite.proxy.chaos = undefined;

      // Assess
      expect(beyondBucket(spent.flat(), BUDGET)).toBe(0);
      expect(spent.flat().length).toBeGreaterThanOrEqual(50);
      expect(errors.filter((e) => !(e instanceof ThrottledError || e instanceof TransientFaultError))).toEqual([]);
    },
    HEAVY_TEST_TIMEOUT_MS,
  );

  it('never lets the live reservations of seven instances add up to more than the budget', async () => {
    // Prepare
    const w = world();
    const fleet = Array.from({ length: 7 }, () => w.instance());
    let worst = 0;
    const watch = async () => {
      while (w.clock.current < w.t0 + 3_000) {
        const item = await w.item();
        const live = Object.values(item?.holders ?? {}).filter((h) => h.until > w.clock.current);
        worst = Math.max(worst, live.reduce((sum, h) => sum + h.rate, 0) - BUDGET);
        await w.time.sleep(37);
      }
    };

    // Act
    await Promise.all([watch(), ...fleet.map((rate) => w.spend(rate, 0, 3_000))]);

    // Assess
    expect(worst).toBeLessThanOrEqual(1e-9);
  });

  it('holds RetryStageExecution back as not sent, and fails a read as a DynamoDB fault, when the rate item cannot be written', async () => {
    // Prepare: CodePipeline would answer; DynamoDB fails every write of the rate item.
    const w = world();
    const sent: string[] = [];
    const client = {
      send: async (command: object) => {
        sent.push(command.constructor.name);
        return { stageStates: [] };
      },
    } as never;
    const adapter = new CodePipelineAdapter(client, client, w.instance());
    suite.proxy.inject({ match: isRateWrite, fault: 'server-error', times: 100 });

    // Act
    const ref = { account: '123456789012', region: 'us-east-1', pipeline: 'p', stage: 'Test', executionId: 'e-1' };
    const retry = await adapter.retryStage(ref, 'FAILED_ACTIONS');
    const read = adapter.getStage(ref);

    // Assess: nothing reached CodePipeline; the retry was not sent, so its claim waits and comes back.
    expect(retry).toMatchObject({ result: RetryCallResult.Throttled, error: 'Paced' });
    await expect(read).rejects.toBeInstanceOf(TransientFaultError);
    expect(sent).toEqual([]);
  });
});
