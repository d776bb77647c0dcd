import { Partition, type TableKey, TableKeys } from '../../contract';
import { TransientFaultError } from '../domain/errors';
import type { PolicyPatch } from '../domain/policy';
import type { PolicyContext, PolicyReader } from '../ports';
import type { DynamoTable, Item } from './dynamo-table';
import { policyOfItem } from './items';

/** Every policy and pause item of the table, by key, as one read found them. */
export interface PolicySnapshot {
  readonly items: ReadonlyMap<string, Item>;
}

/** Where a snapshot comes from: the table, or a cache in front of it. */
export interface PolicySnapshotSource {
  snapshot(): Promise<PolicySnapshot>;
}

const id = (key: TableKey) => `${key.pk}\u0000${key.sk}`;

/**
 * Reads the policies and pause switches: the whole POLICY and PAUSE partitions, one Query each,
 * so an instance reads them once per cache period however many pipelines fail (a fleet has a
 * few dozen policy items, not thousands).
 */
export class DynamoPolicyReader implements PolicyReader, PolicySnapshotSource {
  public constructor(private readonly table: DynamoTable) {}

  public async snapshot(): Promise<PolicySnapshot> {
    try {
      const [policies, pauses] = await Promise.all([this.table.query(Partition.Policy), this.table.query(Partition.Pause)]);
      return { items: new Map([...policies, ...pauses].map((item) => [`${String(item.pk)}\u0000${String(item.sk)}`, item])) };
    } catch (error) {
      throw new TransientFaultError('could not read policies from DynamoDB', { cause: error });
    }
  }

  public async load(pipeline: string, stage: string): Promise<PolicyContext> {
    return contextOf(await this.snapshot(), pipeline, stage);
  }
}

/** The layers and pause switches that apply to one stage, from a snapshot. */
export function contextOf(snapshot: PolicySnapshot, pipeline: string, stage: string): PolicyContext {
  const problems: string[] = [];
  const layer = (key: TableKey, path: string): PolicyPatch | undefined => {
    const item = snapshot.items.get(id(key));
    if (!item) return undefined;
    const result = policyOfItem(item, path);
    problems.push(...result.problems);
    return result.patch;
  };
  const paused = (key: TableKey) => snapshot.items.get(id(key))?.paused === true;
  return {
    layers: {
      default: layer(TableKeys.defaultPolicy(), 'policy DEFAULT'),
      pipeline: layer(TableKeys.pipelinePolicy(pipeline), `policy ${pipeline}`),
      stage: layer(TableKeys.stagePolicy(pipeline, stage), `policy ${pipeline}/${stage}`),
    },
    paused: paused(TableKeys.pause(pipeline)) || paused(TableKeys.pauseAll()),
    problems,
  };
}
