import { type AttributeValue, type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { LedgerKey } from '../domain/ledger';

/**
 * One table holds policies, pauses and the ledger. Names never contain '#'
 * (CodePipeline allows [A-Za-z0-9.@-_]), so '#' is a safe separator.
 */
export const Keys = {
  defaultPolicy: () => ({ pk: 'POLICY', sk: 'DEFAULT' }),
  pipelinePolicy: (pipeline: string) => ({ pk: 'POLICY', sk: `P#${pipeline}` }),
  stagePolicy: (pipeline: string, stage: string) => ({ pk: 'POLICY', sk: `S#${pipeline}#${stage}` }),
  pause: (pipeline: string) => ({ pk: 'PAUSE', sk: pipeline }),
  /** Pauses every pipeline: the account-wide kill switch. */
  pauseAll: () => ({ pk: 'PAUSE', sk: '*' }),
  ledger: (key: LedgerKey) => ({ pk: `LEDGER#${key.pipeline}`, sk: `${key.stage}#${key.executionId}` }),
} as const;

export type PolicyScope =
  | { readonly kind: 'default' }
  | { readonly kind: 'pipeline'; readonly pipeline: string }
  | { readonly kind: 'stage'; readonly pipeline: string; readonly stage: string };

export function policyKey(scope: PolicyScope): { pk: string; sk: string } {
  switch (scope.kind) {
    case 'default':
      return Keys.defaultPolicy();
    case 'pipeline':
      return Keys.pipelinePolicy(scope.pipeline);
    case 'stage':
      return Keys.stagePolicy(scope.pipeline, scope.stage);
  }
}

export function describeScope(scope: PolicyScope): string {
  switch (scope.kind) {
    case 'default':
      return 'the default policy';
    case 'pipeline':
      return `pipeline ${scope.pipeline}`;
    case 'stage':
      return `stage ${scope.pipeline}/${scope.stage}`;
  }
}

/** The table's key schema and TTL attribute; the stack and the local stores use these names. */
export const TABLE_SCHEMA = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' } as const;

/** Every item of one partition, page by page, unmarshalled. */
export async function queryPartition(client: DynamoDBClient, tableName: string, pk: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: marshall({ ':pk': pk }),
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
