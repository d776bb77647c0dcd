import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  type KeysAndAttributes,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TransientFaultError } from '../domain/errors';
import { POLICY_FIELDS, type PolicyLayers, type PolicyPatch, validatePolicyPatch } from '../domain/policy';
import { Keys, type PolicyScope, policyKey, queryPartition } from './table-keys';

/** Who wrote a policy item. Deploys only ever overwrite or delete items they wrote themselves. */
export const PolicySource = { Config: 'config', Cli: 'cli' } as const;
export type PolicySource = (typeof PolicySource)[keyof typeof PolicySource];

export interface PolicyContext {
  readonly layers: PolicyLayers;
  readonly paused: boolean;
  /** Items that failed validation and were ignored, so the caller can log them. */
  readonly problems: readonly string[];
}

export interface SeedResult {
  readonly written: string[];
  /** Items an operator changed with the CLI: the deploy left them as they are. */
  readonly keptOperatorChanges: string[];
  readonly removed: string[];
}

export interface StoredPolicy {
  readonly scope: PolicyScope;
  readonly patch: PolicyPatch;
  readonly source: string;
  readonly updatedAt: string | undefined;
  readonly updatedBy: string | undefined;
}

export interface PolicyReader {
  load(pipeline: string, stage: string): Promise<PolicyContext>;
}

export class PolicyStore implements PolicyReader {
  public constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBClient = new DynamoDBClient({}),
  ) {}

  /** One BatchGetItem: default, pipeline and stage policies and both pause switches. */
  public async load(pipeline: string, stage: string): Promise<PolicyContext> {
    const keys = [
      Keys.defaultPolicy(),
      Keys.pipelinePolicy(pipeline),
      Keys.stagePolicy(pipeline, stage),
      Keys.pause(pipeline),
      Keys.pauseAll(),
    ];
    const items: Record<string, unknown>[] = [];
    let request: Record<string, KeysAndAttributes> | undefined = {
      [this.tableName]: { Keys: keys.map((k) => marshall(k)), ConsistentRead: true },
    };
    try {
      for (let round = 0; request && Object.keys(request).length > 0 && round < 5; round++) {
        const out: BatchGetItemCommandOutput = await this.client.send(new BatchGetItemCommand({ RequestItems: request }));
        items.push(...(out.Responses?.[this.tableName] ?? []).map((i) => unmarshall(i)));
        request = out.UnprocessedKeys;
      }
    } catch (error) {
      throw new TransientFaultError('could not read policies from DynamoDB', { cause: error });
    }
    if (request && Object.keys(request).length > 0) {
      throw new TransientFaultError('DynamoDB left policy keys unprocessed');
    }
    const find = (k: { pk: string; sk: string }) => items.find((i) => i.pk === k.pk && i.sk === k.sk);
    const problems: string[] = [];
    const layer = (k: { pk: string; sk: string }, path: string): PolicyPatch | undefined => {
      const item = find(k);
      if (!item) return undefined;
      const result = validatePolicyPatch(item, path, 'stored');
      problems.push(...result.problems);
      return result.patch;
    };
    return {
      layers: {
        default: layer(Keys.defaultPolicy(), 'policy DEFAULT'),
        pipeline: layer(Keys.pipelinePolicy(pipeline), `policy ${pipeline}`),
        stage: layer(Keys.stagePolicy(pipeline, stage), `policy ${pipeline}/${stage}`),
      },
      paused: find(Keys.pause(pipeline))?.paused === true || find(Keys.pauseAll())?.paused === true,
      problems,
    };
  }

  /** Merges the given fields into a policy item and marks it as the operator's. */
  public async setPolicy(scope: PolicyScope, patch: PolicyPatch, updatedBy: string, now: Date): Promise<void> {
    const names: Record<string, string> = { '#source': 'source', '#updatedAt': 'updatedAt', '#updatedBy': 'updatedBy' };
    const values: Record<string, unknown> = { ':source': PolicySource.Cli, ':now': now.toISOString(), ':by': updatedBy };
    const sets = ['#source = :source', '#updatedAt = :now', '#updatedBy = :by'];
    for (const field of POLICY_FIELDS) {
      if (patch[field] === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = patch[field];
      sets.push(`#${field} = :${field}`);
    }
    if (scope.kind !== 'default') {
      names['#pipeline'] = 'pipeline';
      values[':pipeline'] = scope.pipeline;
      sets.push('#pipeline = :pipeline');
    }
    if (scope.kind === 'stage') {
      names['#stage'] = 'stage';
      values[':stage'] = scope.stage;
      sets.push('#stage = :stage');
    }
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: marshall(policyKey(scope)),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: marshall(values),
      }),
    );
  }

  /** Deletes a policy item; returns whether there was one. */
  public async deletePolicy(scope: PolicyScope): Promise<boolean> {
    const out = await this.client.send(
      new DeleteItemCommand({ TableName: this.tableName, Key: marshall(policyKey(scope)), ReturnValues: 'ALL_OLD' }),
    );
    return out.Attributes !== undefined;
  }

  public async setPaused(pipeline: string | '*', paused: boolean, updatedBy: string, now: Date): Promise<void> {
    const key = pipeline === '*' ? Keys.pauseAll() : Keys.pause(pipeline);
    if (!paused) {
      await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: marshall(key) }));
      return;
    }
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: marshall({ ...key, paused: true, updatedAt: now.toISOString(), updatedBy }),
      }),
    );
  }

  /** Paused pipelines; `*` is the account-wide kill switch. */
  public async listPauses(): Promise<{ pipeline: string; updatedAt: string | undefined; updatedBy: string | undefined }[]> {
    const items = await queryPartition(this.client, this.tableName, 'PAUSE');
    return items
      .filter((i) => i.paused === true)
      .map((i) => ({ pipeline: String(i.sk), updatedAt: i.updatedAt as string | undefined, updatedBy: i.updatedBy as string | undefined }));
  }

  public async listPolicies(): Promise<StoredPolicy[]> {
    const out: StoredPolicy[] = [];
    for (const item of await queryPartition(this.client, this.tableName, 'POLICY')) {
      const scope = scopeOfSortKey(String(item.sk));
      if (!scope) continue;
      out.push({
        scope,
        patch: validatePolicyPatch(item, 'policy', 'stored').patch,
        source: String(item.source ?? PolicySource.Config),
        updatedAt: item.updatedAt as string | undefined,
        updatedBy: item.updatedBy as string | undefined,
      });
    }
    return out;
  }

  /**
   * Writes the policies from configuration. An item an operator changed with the CLI
   * (source = cli) is never overwritten or deleted by a deploy; it is reported instead.
   */
  public async seed(desired: readonly { scope: PolicyScope; patch: PolicyPatch }[], now: Date): Promise<SeedResult> {
    const result: SeedResult = { written: [], keptOperatorChanges: [], removed: [] };
    const desiredKeys = new Set(desired.map((d) => policyKey(d.scope).sk));
    for (const { scope, patch } of desired) {
      const key = policyKey(scope);
      const item = {
        ...key,
        ...patch,
        ...(scope.kind !== 'default' ? { pipeline: scope.pipeline } : {}),
        ...(scope.kind === 'stage' ? { stage: scope.stage } : {}),
        source: PolicySource.Config,
        updatedAt: now.toISOString(),
        updatedBy: 'deploy',
      };
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: marshall(item),
            ConditionExpression: 'attribute_not_exists(pk) OR #source = :config',
            ExpressionAttributeNames: { '#source': 'source' },
            ExpressionAttributeValues: marshall({ ':config': PolicySource.Config }),
          }),
        );
        result.written.push(key.sk);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        result.keptOperatorChanges.push(key.sk);
      }
    }
    for (const stored of await this.listPolicies()) {
      const key = policyKey(stored.scope);
      if (stored.source !== PolicySource.Config || desiredKeys.has(key.sk)) continue;
      try {
        await this.client.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: marshall(key),
            ConditionExpression: '#source = :config',
            ExpressionAttributeNames: { '#source': 'source' },
            ExpressionAttributeValues: marshall({ ':config': PolicySource.Config }),
          }),
        );
        result.removed.push(key.sk);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    return result;
  }
}

export function scopeOfSortKey(sk: string): PolicyScope | undefined {
  if (sk === 'DEFAULT') return { kind: 'default' };
  const [kind, pipeline, stage] = sk.split('#');
  if (kind === 'P' && pipeline) return { kind: 'pipeline', pipeline };
  if (kind === 'S' && pipeline && stage) return { kind: 'stage', pipeline, stage };
  return undefined;
}
