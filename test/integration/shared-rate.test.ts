import { ThrottledError } from '../../lambda/domain/errors';
import { beyondBucket, maxInAnySecond } from '../../local/fleet';
import { inWindow, isRateWrite, useRateSuite } from '../support/rate-world';

/**
 * The deployment's shared CodePipeline request rate against dynalite (through a fault proxy), in
 * simulated time: instances that spend as fast as they are let, and what they spent, second by
 * second. The budget is 20 requests/s unless a test says otherwise.
 */
const suite = useRateSuite();
const world = suite.world;
const BUDGET = 20;

describe('SharedRate: one CodePipeline budget for the whole deployment', () => {
  it('lets an instance that is alone spend the whole budget, and no more', async () => {
    // Prepare
    const w = world();

    // Act
    const calls = await w.spend(w.instance(), 0, 10_000);

    // Assess: 20 requests/s for 10 s, as AWS counts a rate (a bucket with a second's burst).
    expect(calls.length).toBeGreaterThanOrEqual(190);
    expect(calls.length).toBeLessThanOrEqual(201);
    expect(beyondBucket(calls, BUDGET)).toBe(0);
  });

  it('shares the budget among instances busy at once: together never more, each about its share', async () => {
    // Prepare
    const w = world();
    const fleet = Array.from({ length: 4 }, () => w.instance());

    // Act
    const spent = await Promise.all(fleet.map((rate) => w.spend(rate, 0, 10_000)));

    // Assess
    const all = spent.flat().sort((a, b) => a - b);
    expect(beyondBucket(all, BUDGET)).toBe(0);
    expect(all.length).toBeGreaterThanOrEqual(170);
    for (const calls of spent) expect(calls.length / all.length).toBeGreaterThan(0.15);
    expect(maxInAnySecond(all)).toBeLessThanOrEqual(BUDGET + fleet.length);
  });

  it('gives a newcomer its share within a second while another instance holds the whole budget', async () => {
    // Prepare
    const w = world();
    const first = w.instance();
    const newcomer = w.instance();

    // Act
    const [a, b] = await Promise.all([w.spend(first, 0, 10_000), w.spend(newcomer, 5_000, 10_000)]);

    // Assess: the first spends all of it alone, then both about half.
    expect(inWindow(a, 1_000, 5_000)).toBeGreaterThanOrEqual(78);
    expect(b[0]).toBeLessThan(6_000);
    expect(inWindow(a, 7_000, 10_000)).toBeGreaterThanOrEqual(24);
    expect(inWindow(b, 7_000, 10_000)).toBeGreaterThanOrEqual(24);
    expect(beyondBucket([...a, ...b], BUDGET)).toBe(0);
  });

  it('brings the deployment’s limit down to 70 % after a throttled answer, and back up slowly', async () => {
    // Prepare
    const w = world();
    const rate = w.instance();
    await w.spend(rate, 0, 2_000);

    // Act
    rate.throttled();
    const after = await w.spend(rate, 2_000, 8_000);
    const lowered = (await w.item())?.limit;
    const later = await w.spend(rate, 8_000, 80_000);

    // Assess
    expect(lowered).toBe(14);
    expect(inWindow(after, 3_000, 8_000)).toBeLessThanOrEqual(14 * 5 + 1);
    expect(inWindow(after, 3_000, 8_000)).toBeGreaterThanOrEqual(14 * 5 - 3);
    expect((await w.item())?.limit).toBe(BUDGET);
    // A tenth of the budget every 10 s: still below the budget 10 s after the throttled answer.
    expect(inWindow(later, 10_000, 12_000)).toBeLessThan(2 * BUDGET - 2);
    expect(inWindow(later, 70_000, 80_000)).toBeGreaterThanOrEqual(10 * BUDGET - 2);
  });

  it('takes a throttled answer soon after the limit came down as an echo, not as a second one', async () => {
    // Prepare
    const w = world();
    const rate = w.instance();
    await w.spend(rate, 0, 1_000);
    rate.throttled();
    await w.spend(rate, 1_000, 1_200);

    // Act
    rate.throttled();
    await w.spend(rate, 1_200, 1_400);

    // Assess
    expect((await w.item())?.limit).toBe(14);
  });

  it('recognises its own reservation by its write id when DynamoDB’s answer was lost', async () => {
    // Prepare: the first reservation's answer is lost after DynamoDB took it; the SDK resends it and
    // the resend fails its condition.
    const w = world();
    const rate = w.instance({ instanceId: 'instance-a' });
    suite.proxy.inject({ match: isRateWrite, fault: 'apply-then-500' });

    // Act
    const turn = await rate.acquire();

    // Assess: one read finds its own write in place; it writes no second reservation.
    expect(turn).toBe(true);
    expect(suite.proxy.lostReplies()).toHaveLength(1);
    expect(suite.proxy.records.filter(isRateWrite)).toHaveLength(2);
    expect(Object.keys((await w.item())?.holders ?? {})).toEqual(['instance-a']);
    // …and spends the budget as if nothing had happened.
    expect((await w.spend(rate, 0, 3_000)).length).toBeGreaterThanOrEqual(55);
  });

  it('answers a DynamoDB that keeps throttling the rate item with ThrottledError, never with a turn', async () => {
    // Prepare
    const w = world();
    const rate = w.instance();
    suite.proxy.inject({ match: isRateWrite, fault: 'throttle', times: 20 });

    // Act
    const turn = rate.acquire();

    // Assess
    await expect(turn).rejects.toBeInstanceOf(ThrottledError);
  });

  it('hands the call back at once when its turn is further away than the inline wait allows', async () => {
    // Prepare: one request every 10 s, at most 7.5 s of waiting inside an invocation.
    const w = world();
    const rate = w.instance({ budget: 0.1, maxInlineWaitMs: 7_500 });

    // Act
    const turn = await rate.acquire();

    // Assess
    expect(turn).toBe(false);
    expect(w.clock.current - w.t0).toBeLessThan(1_000);
  });
});
