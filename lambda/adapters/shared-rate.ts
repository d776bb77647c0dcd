import { randomUUID } from 'node:crypto';
import { TableKeys } from '../../contract';
import { ThrottledError } from '../domain/errors';
import { type DynamoTable, dynamoFault } from './dynamo-table';

/** What the CodePipeline adapter asks before each call, and tells after a throttled one. */
export interface RateGate {
  /** Resolves true when the call may go now (having waited, if need be, a little), false when it must wait longer. */
  acquire(): Promise<boolean>;
  /** CodePipeline throttled one of our calls: the deployment's rate comes down. */
  throttled(): void;
}

/** No pacing: every call goes (a rate too high to matter). */
export const UNPACED: RateGate = { acquire: async () => true, throttled: () => undefined };

/** One instance's reservation, as the shared item holds it. */
interface Holder {
  /** Requests per second this instance may spend until `until`. */
  readonly rate: number;
  /** Epoch milliseconds. */
  readonly until: number;
  /** The write that made the reservation: a resend after a lost answer recognises it. */
  readonly write: string;
}

/** The shared item of one account and region. */
interface RateItem {
  /** What the deployment spends now: the budget, or less after CodePipeline throttled us. */
  readonly limit: number;
  /** When the limit last changed (epoch milliseconds). */
  readonly limitAt: number;
  readonly holders: Record<string, Holder>;
  readonly version: number;
}

export interface SharedRateOptions {
  readonly now: () => number;
  /** Waits that long (the tests' simulated time makes it instant). */
  readonly sleep: (ms: number) => Promise<void>;
  /** How long a reservation lasts; an instance with work renews it. @default 1000 */
  readonly reservationMs?: number;
  /** The longest a call waits for its turn inside the invocation before its work goes to the delay queue. @default 7500 */
  readonly maxInlineWaitMs?: number;
  /** The instance's name in the shared item. @default a random UUID */
  readonly instanceId?: string;
  /** Spreads the re-reads of instances that wrote at once. @default Math.random */
  readonly random?: () => number;
}

/** After a throttled answer the limit is this share of what it was… */
const DECREASE = 0.7;
/** …and it grows back by this share of the budget every so often without one. */
const INCREASE = 0.1;
const RECOVER_AFTER_MS = 10_000;
/**
 * Throttled answers this soon after the limit came down are echoes of the old limit (the other
 * instances come down at their next renewal, and their clocks may differ a little): they do not
 * lower it again.
 */
const ECHO_MS = 2_000;
/**
 * How far the instances’ clocks may differ (Lambda hosts keep theirs far closer, by the Amazon
 * Time Sync Service): a holder counts for this much longer than its own
 * clock said, so an instance whose clock is behind is not taken for gone (and starved).
 */
const CLOCK_SKEW_MS = 1_000;
/** Tries of one reservation against other instances' writes before the call is deferred. */
const MAX_ROUNDS = 10;
/** The soonest a holder with no grant (the others hold the whole rate for now) asks again. */
const ZERO_GRANT_RETRY_MS = 100;
/** Requests per second below which a share is none. */
const MIN_GRANT = 0.01;
/** Throttled answers never bring the limit below this (or the budget, if it is lower). */
const MIN_LIMIT = 1;

/**
 * The CodePipeline request rate of a whole deployment in one account and region, shared by all
 * its instances: `budget` requests per second in all, and any instance may spend all of it while
 * the others are idle. Each instance holds a reservation (a rate, for a second) in one
 * DynamoDB item, made and renewed with one conditional write; the reservations never add up to
 * more than the limit. Alone, an instance reserves the whole limit; when others are busy too, each
 * comes down to an equal share at its next renewal, and a newcomer gets its share within one
 * reservation's length. Within its reservation an instance spends from a local token bucket at
 * its rate, waiting inline for its next token (a few hundred milliseconds are cheaper than a trip
 * through the delay queue and a second read); only a wait longer than `maxInlineWaitMs` sends the
 * work to the delay queue. When CodePipeline throttles us anyway (the account's quota is shared
 * with consoles and other tools), the limit comes down to 70 % of itself, and grows back by a
 * tenth of the budget every 10 s without a throttled answer.
 */
export class SharedRate implements RateGate {
  private readonly reservationMs: number;
  private readonly maxInlineWaitMs: number;
  private readonly instanceId: string;
  private grant = 0;
  private until = 0;
  private tokens = 0;
  private at = 0;
  /** Throttled answers seen, and how many of them the shared limit has taken in. */
  private throttles = 0;
  private throttlesApplied = 0;
  /** The item as this instance last wrote it: a renewal tries it first, with no read. */
  private known: RateItem | undefined;
  private renewing: Promise<void> | undefined;

  public constructor(
    private readonly table: DynamoTable,
    /** The scoped name of the account and region (or `home`). */
    private readonly scope: string,
    private readonly budget: number,
    private readonly options: SharedRateOptions,
  ) {
    this.reservationMs = options.reservationMs ?? 1000;
    // At least a second: a turn is always within reach of a reservation at one request a second.
    this.maxInlineWaitMs = Math.max(1000, options.maxInlineWaitMs ?? 7500);
    this.instanceId = options.instanceId ?? randomUUID();
  }

  public throttled(): void {
    this.throttles += 1;
    // Spend no more of this reservation: the next call renews, with the lower limit.
    this.until = 0;
  }

  public async acquire(): Promise<boolean> {
    const { now, sleep } = this.options;
    const deadline = now() + this.maxInlineWaitMs;
    for (;;) {
      // A busy instance renews a little before its reservation ends, so that it never lapses.
      if (now() >= this.until - this.reservationMs / 5) await this.renew();
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return true;
      }
      const wait = this.grant > 0 ? Math.max(1, Math.ceil(((1 - this.tokens) / this.grant) * 1000)) : ZERO_GRANT_RETRY_MS;
      // Wake for the renewal if it comes first: a token slower than a reservation (a share below
      // one call per reservation) is earned across renewals, never lost to a lapsed one.
      const renewal = this.until - this.reservationMs / 5 - now();
      const sleepMs = this.grant > 0 && renewal >= 1 && renewal < wait ? Math.ceil(renewal) : wait;
      if (now() + wait > deadline) {
        return false;
      }
      await sleep(sleepMs);
    }
  }

  private refill(): void {
    const now = this.options.now();
    // Earned at the grant while the reservation ran; one token at most: the instance spends at its
    // rate, never in bursts of its own.
    const earned = Math.max(0, Math.min(now, this.until) - this.at);
    this.tokens = Math.min(1, this.tokens + (earned / 1000) * this.grant);
    this.at = now;
  }

  /** One renewal at a time per instance; concurrent callers wait for it. */
  private renew(): Promise<void> {
    this.renewing ??= this.reserve().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  /** Reads (if it must), decides the grant, writes on the version read; again when another instance wrote in between. */
  private async reserve(): Promise<void> {
    // Waiting with no grant, still registered: look (a read) before writing again.
    const waiting = this.grant === 0 && (this.known?.holders[this.instanceId]?.until ?? 0) > this.options.now();
    let item = waiting ? await this.read() : this.known;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const now = this.options.now();
      // Throttled answers that come in while this write is in flight wait for the next one.
      const throttles = this.throttles;
      const next = this.next(item, now, throttles > this.throttlesApplied);
      if (waiting && item && (next.holders[this.instanceId]?.rate ?? 0) === 0 && throttles === this.throttlesApplied) {
        this.adopt(item, now, this.throttlesApplied);
        return;
      }
      const write = next.holders[this.instanceId]?.write ?? '';
      if (await this.put(next, item?.version)) {
        this.adopt(next, now, throttles);
        return;
      }
      // Another instance wrote in between: a moment's pause, spread, so that a crowd does not
      // collide again on the next round.
      await this.options.sleep(Math.ceil((this.options.random ?? Math.random)() * 10 * (round + 1)));
      item = await this.read();
      // A resend after a lost answer finds our own write in place: done.
      if (item?.holders[this.instanceId]?.write === write) {
        this.adopt(item, now, throttles);
        return;
      }
    }
    throw new ThrottledError('could not reserve a share of the CodePipeline request rate: too much contention');
  }

  private adopt(item: RateItem, now: number, throttlesApplied: number): void {
    // What the bucket earned at the old rate until now, before the rate changes.
    this.refill();
    this.known = item;
    const mine = item.holders[this.instanceId];
    const renewed = this.grant > 0 && this.until >= now;
    // A remainder of floating-point subtraction is no grant.
    this.grant = (mine?.rate ?? 0) >= MIN_GRANT ? (mine?.rate ?? 0) : 0;
    // With no grant (the others hold the whole rate for now) ask again when the first of them
    // renews: it comes down to its share then.
    const others = Object.entries(item.holders).filter(([id, h]) => id !== this.instanceId && h.until > now);
    const firstRenewal = Math.min(...others.map(([, h]) => h.until - this.reservationMs / 5), now + this.reservationMs);
    this.until = this.grant > 0 ? (mine?.until ?? 0) : Math.max(now + ZERO_GRANT_RETRY_MS, firstRenewal);
    // A renewal keeps what the bucket held; a new reservation starts empty, so its first call
    // waits one token's time (a twentieth of a second at 20/s): the spend never runs ahead of the rate.
    if (!renewed) this.tokens = 0;
    this.at = now;
    this.throttlesApplied = throttlesApplied;
    // Throttled meanwhile: spend no more of this reservation either.
    if (this.throttles > throttlesApplied) this.until = 0;
  }

  /** The item this instance writes: the limit adapted, expired holders dropped, its own grant decided. */
  private next(item: RateItem | undefined, now: number, throttled: boolean): RateItem {
    let limit = Math.min(this.budget, item?.limit ?? this.budget);
    let limitAt = item?.limitAt ?? now;
    if (throttled && !(limit < this.budget && Math.abs(now - limitAt) < ECHO_MS)) {
      limit = Math.max(Math.min(MIN_LIMIT, this.budget), limit * DECREASE);
      limitAt = now;
    } else if (limit < this.budget && now - limitAt >= RECOVER_AFTER_MS) {
      limit = Math.min(this.budget, limit + this.budget * INCREASE);
      limitAt = now;
    }
    // A holder counts while its reservation runs, and for one more reservation's length after (a
    // busy one renews about then, and one whose reservation just lapsed is not taken for gone),
    // with room for clocks that differ.
    const others = Object.entries(item?.holders ?? {}).filter(
      ([id, h]) => id !== this.instanceId && h.until > now - this.reservationMs - CLOCK_SKEW_MS,
    );
    const reserved = others.reduce((n, [, h]) => n + h.rate, 0);
    // Alone: the whole limit. With others: an equal share of the limit, or what they leave of the
    // budget if that is less for now. (After the limit came down, the others still spend their old
    // shares until they renew: all together stay within the budget, and within the lower limit
    // one reservation later.) A share too small to earn a call within the inline wait is none: so
    // many sharers take turns through the delay queue instead of all waiting in vain.
    const useful = Math.max(MIN_GRANT, Math.min(limit, (2 * 1000) / this.maxInlineWaitMs));
    const share = limit / (others.length + 1);
    const left = share >= useful ? Math.min(this.budget - reserved, share) : Math.min(limit - reserved, useful);
    const rate = others.length === 0 ? limit : left >= useful ? left : 0;
    const holders = Object.fromEntries([...others, [this.instanceId, { rate, until: now + this.reservationMs, write: randomUUID() }]]);
    return { limit, limitAt, holders, version: (item?.version ?? 0) + 1 };
  }

  private async read(): Promise<RateItem | undefined> {
    try {
      return (await this.table.get(TableKeys.rate(this.scope))) as RateItem | undefined;
    } catch (error) {
      throw dynamoFault('read the shared request rate', error);
    }
  }

  private async put(item: RateItem, expectedVersion: number | undefined): Promise<boolean> {
    try {
      return await this.table.put(
        { ...TableKeys.rate(this.scope), ...item },
        expectedVersion === undefined
          ? { expression: 'attribute_not_exists(pk)' }
          : { expression: '#v = :v', names: { '#v': 'version' }, values: { ':v': expectedVersion } },
      );
    } catch (error) {
      throw dynamoFault('reserve a share of the request rate', error);
    }
  }
}
