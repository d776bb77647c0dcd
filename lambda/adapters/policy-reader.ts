import { Partition, type TableKey, TableKeys } from '../../contract';
import type { PolicyPatch } from '../../policy/policy';
import type { PipelineRef } from '../domain/refs';
import type { PolicyContext, PolicyReader } from '../ports';
import { type DynamoTable, dynamoFault, type Item } from './dynamo-table';
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
      throw dynamoFault('read the policies', error);
    }
  }

  public async load(pipeline: PipelineRef, stage: string): Promise<PolicyContext> {
    return contextOf(await this.snapshot(), pipeline.account, pipeline.pipeline, stage);
  }
}

/**
 * The layers and pause switches that apply to one stage of a pipeline in `account`, from a
 * snapshot. A policy for the pipeline in this account goes over one for the pipeline in any
 * account, field by field; the account's defaults sit between the pipeline and the default.
 */
export function contextOf(snapshot: PolicySnapshot, account: string | undefined, pipeline: string, stage: string): PolicyContext {
  const problems: string[] = [];
  const layer = (key: TableKey, path: string): PolicyPatch | undefined => {
    const item = snapshot.items.get(id(key));
    if (!item) return undefined;
    const result = policyOfItem(item, path);
    problems.push(...result.problems);
    return result.patch;
  };
  const paused = (key: TableKey) => snapshot.items.get(id(key))?.paused === true;
  const inAccount = (key: (a: string) => TableKey, path: string) => (account === undefined ? undefined : layer(key(account), path));
  return {
    layers: {
      default: layer(TableKeys.defaultPolicy(), 'policy DEFAULT'),
      account: inAccount((a) => TableKeys.accountPolicy(a), `policy account:${account}`),
      pipeline: over(
        layer(TableKeys.pipelinePolicy(pipeline), `policy ${pipeline}`),
        inAccount((a) => TableKeys.pipelinePolicy(pipeline, a), `policy ${account}/${pipeline}`),
      ),
      stage: over(
        layer(TableKeys.stagePolicy(pipeline, stage), `policy ${pipeline}/${stage}`),
        inAccount((a) => TableKeys.stagePolicy(pipeline, stage, a), `policy ${account}/${pipeline}/${stage}`),
      ),
    },
    paused:
      paused(TableKeys.pause(pipeline)) ||
      paused(TableKeys.pauseAll()) ||
      (account !== undefined && (paused(TableKeys.pause(pipeline, account)) || paused(TableKeys.pauseAccount(account)))),
    problems,
  };
}

/** `specific`'s fields over `general`'s. */
function over(general: PolicyPatch | undefined, specific: PolicyPatch | undefined): PolicyPatch | undefined {
  if (!specific) return general;
  if (!general) return specific;
  const merged: Record<string, unknown> = { ...general };
  for (const [field, value] of Object.entries(specific)) if (value !== undefined) merged[field] = value;
  return merged as PolicyPatch;
}
