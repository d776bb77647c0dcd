import { BatchGetItemCommand, type BatchGetItemCommandOutput, type KeysAndAttributes } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { type TableKey, TableKeys } from '../../contract';
import { TransientFaultError } from '../domain/errors';
import type { PolicyPatch } from '../domain/policy';
import type { PolicyContext, PolicyReader } from '../ports';
import type { DynamoTable, Item } from './dynamo-table';
import { policyOfItem } from './items';

/** Reads the policies and pause switches that apply to one stage, as the retry function needs them. */
export class DynamoPolicyReader implements PolicyReader {
  public constructor(private readonly table: DynamoTable) {}

  /** One BatchGetItem: default, pipeline and stage policies and both pause switches. */
  public async load(pipeline: string, stage: string): Promise<PolicyContext> {
    const keys = [
      TableKeys.defaultPolicy(),
      TableKeys.pipelinePolicy(pipeline),
      TableKeys.stagePolicy(pipeline, stage),
      TableKeys.pause(pipeline),
      TableKeys.pauseAll(),
    ];
    const items: Item[] = [];
    let request: Record<string, KeysAndAttributes> | undefined = {
      [this.table.name]: { Keys: keys.map((k) => marshall(k)), ConsistentRead: true },
    };
    try {
      for (let round = 0; request && Object.keys(request).length > 0 && round < 5; round++) {
        const out: BatchGetItemCommandOutput = await this.table.client.send(new BatchGetItemCommand({ RequestItems: request }));
        items.push(...(out.Responses?.[this.table.name] ?? []).map((i) => unmarshall(i)));
        request = out.UnprocessedKeys;
      }
    } catch (error) {
      throw new TransientFaultError('could not read policies from DynamoDB', { cause: error });
    }
    if (request && Object.keys(request).length > 0) {
      throw new TransientFaultError('DynamoDB left policy keys unprocessed');
    }
    const find = (k: TableKey) => items.find((i) => i.pk === k.pk && i.sk === k.sk);
    const problems: string[] = [];
    const layer = (k: TableKey, path: string): PolicyPatch | undefined => {
      const item = find(k);
      if (!item) return undefined;
      const result = policyOfItem(item, path);
      problems.push(...result.problems);
      return result.patch;
    };
    return {
      layers: {
        default: layer(TableKeys.defaultPolicy(), 'policy DEFAULT'),
        pipeline: layer(TableKeys.pipelinePolicy(pipeline), `policy ${pipeline}`),
        stage: layer(TableKeys.stagePolicy(pipeline, stage), `policy ${pipeline}/${stage}`),
      },
      paused: find(TableKeys.pause(pipeline))?.paused === true || find(TableKeys.pauseAll())?.paused === true,
      problems,
    };
  }
}
