import { randomUUID } from 'node:crypto';
import { type TableKey, TableKeys } from '../../contract';
import { DynamoTable, type Item } from '../../lambda/adapters/dynamo-table';
import { SharedRate, type SharedRateOptions } from '../../lambda/adapters/shared-rate';
import { ThrottledError } from '../../lambda/domain/errors';
import type { FaultProxy, ProxiedCall } from '../../local/fault-proxy';
import { type LocalAws, ManualClock } from '../../local/local-aws';
import { VirtualTime } from '../../local/virtual-time';
import { proxiedDynamoClient, useLocalAws } from './index';

/**
 * The table, counting its requests in flight: simulated time moves only while none is. Counted at
 * the client, not by the services' own `busy` (LocalAws.busy): a request still on its way to the
 * fault proxy is in neither's count there, and the clock would move under it.
 */
export class CountingTable extends DynamoTable {
  public inFlight = 0;
  public override async get(key: TableKey): Promise<Item | undefined> {
    this.inFlight += 1;
    try {
      return await super.get(key);
    } finally {
      this.inFlight -= 1;
    }
  }
  public override async put(item: Item, condition?: Parameters<DynamoTable['put']>[1]): Promise<boolean> {
    this.inFlight += 1;
    try {
      return await super.put(item, condition);
    } finally {
      this.inFlight -= 1;
    }
  }
}

/** The table through the fault proxy of the local services. */
export function countingTable(aws: LocalAws, proxy: FaultProxy): CountingTable {
  const client = proxiedDynamoClient(proxy);
  return new CountingTable(aws.tableName, client);
}

export interface InstanceOptions extends Partial<SharedRateOptions> {
  /** @default 20 */
  readonly budget?: number;
  /** How far this instance's clock is off (ms). @default 0 */
  readonly skewMs?: number;
}

export interface RateItemView {
  readonly limit: number;
  readonly holders: Record<string, { rate: number; until: number }>;
}

/** The rate item's writes, as the proxy saw them. */
export const isRateWrite = (c: ProxiedCall) => c.operation === 'PutItem' && (c.input.Item as { pk?: { S?: string } })?.pk?.S === 'RATE';

/** Calls (ms after the start) within [from, to). */
export const inWindow = (calls: readonly number[], from: number, to: number) => calls.filter((t) => t >= from && t < to).length;

/**
 * A fresh scope (its own rate item), a clock and simulated waits: instances of the shared rate,
 * and a worker that spends as fast as an instance lets it.
 */
export function rateWorld(aws: LocalAws, table: CountingTable) {
  const clock = new ManualClock(Date.parse('2026-03-01T10:15:02Z'));
  const t0 = clock.current;
  const time = new VirtualTime(clock, () => table.inFlight);
  const scope = `test/${randomUUID()}`;
  const instance = (o: InstanceOptions = {}) =>
    new SharedRate(table, scope, o.budget ?? 20, { now: () => clock.current + (o.skewMs ?? 0), sleep: time.sleep, ...o });
  /**
   * Spends as fast as `rate` lets it from `from` to `to` (ms after the start); the times of its
   * calls. A refused turn (or a ThrottledError) is work sent to the delay queue: it comes back
   * after `deferMs`.
   */
  const spend = async (rate: SharedRate, from: number, to: number, deferMs = 0): Promise<number[]> => {
    const calls: number[] = [];
    if (t0 + from > clock.current) await time.sleep(t0 + from - clock.current);
    while (clock.current < t0 + to) {
      let turn = false;
      try {
        turn = await rate.acquire();
      } catch (error) {
        if (!(error instanceof ThrottledError)) throw error;
      }
      if (turn) calls.push(clock.current - t0);
      else if (deferMs > 0) await time.sleep(deferMs);
    }
    return calls;
  };
  const item = async () => (await aws.table().get(TableKeys.rate(scope))) as RateItemView | undefined;
  return { clock, time, scope, instance, spend, item, t0 };
}

/** What a test file of the shared rate works with: the local services, their fault proxy, and fresh worlds. */
export interface RateSuite {
  readonly aws: LocalAws;
  /** Set before the first test. */
  proxy: FaultProxy;
  readonly world: () => ReturnType<typeof rateWorld>;
}

/** Starts the local services for the file, the table through their fault proxy, and clears its faults before each test. */
export function useRateSuite(): RateSuite {
  const aws = useLocalAws();
  let table: CountingTable | undefined;
  const suite: RateSuite = {
    aws,
    proxy: undefined as unknown as FaultProxy,
    world: () => {
      if (!table) throw new Error('the local services have not started');
      return rateWorld(aws, table);
    },
  };
  beforeAll(async () => {
    suite.proxy = await aws.ownFaults();
    table = countingTable(aws, suite.proxy);
  });
  beforeEach(() => suite.proxy.clear());
  return suite;
}
