import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { TableKey } from '../../contract';
import { ThrottledError, TransientFaultError } from '../domain/errors';

export type Item = Record<string, unknown>;

/** One conditional write: `done` with the item (when asked for), or refused by its condition. */
export type WriteResult = { readonly done: true; readonly item: Item } | { readonly done: false; readonly item: Item | undefined };

export interface Update {
  readonly expression: string;
  readonly names?: Readonly<Record<string, string>>;
  readonly values?: Readonly<Record<string, unknown>>;
  readonly condition?: string;
  /** Ask DynamoDB for the item after the write (only callers that use it pay for it). */
  readonly returnItem?: boolean;
  /** With returnItem: the item as it was before the write, not after. */
  readonly returnOld?: boolean;
  /** Ask DynamoDB for the item a failed condition saw (dynalite ignores this). */
  readonly returnOnConditionFailure?: boolean;
}

/**
 * The table as every caller (the retry function, the seeder, the CLI) reaches it: one helper for
 * conditional writes, one for pagination. SDK errors other than a failed condition propagate as
 * they are; each caller says what they mean to it.
 */
export class DynamoTable {
  public constructor(
    public readonly name: string,
    public readonly client: DynamoDBClient,
  ) {}

  public async get(key: TableKey): Promise<Item | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.name, Key: marshall(key), ConsistentRead: true }));
    return out.Item ? unmarshall(out.Item) : undefined;
  }

  /** An UpdateItem whose condition may fail. */
  public async update(key: TableKey, u: Update): Promise<WriteResult> {
    const text = `${u.expression} ${u.condition ?? ''}`;
    const names = Object.fromEntries(Object.entries(u.names ?? {}).filter(([n]) => text.includes(n)));
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.name,
          Key: marshall(key),
          UpdateExpression: u.expression,
          ConditionExpression: u.condition,
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ...(u.values && Object.keys(u.values).length > 0
            ? { ExpressionAttributeValues: marshall(u.values, { removeUndefinedValues: true }) }
            : {}),
          ...(u.returnItem ? { ReturnValues: u.returnOld ? ('ALL_OLD' as const) : ('ALL_NEW' as const) } : {}),
          ...(u.returnOnConditionFailure ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
        }),
      );
      return { done: true, item: unmarshall(out.Attributes ?? {}) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { done: false, item: itemOf(error) };
      throw error;
    }
  }

  /** A PutItem whose condition may fail; false when it did. */
  public async put(item: Item, condition?: { expression: string; names?: Record<string, string>; values?: Item }): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.name,
          Item: marshall(item, { removeUndefinedValues: true }),
          ...(condition
            ? {
                ConditionExpression: condition.expression,
                ...(condition.names ? { ExpressionAttributeNames: condition.names } : {}),
                ...(condition.values ? { ExpressionAttributeValues: marshall(condition.values) } : {}),
              }
            : {}),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** A DeleteItem whose condition may fail; returns the deleted item, or undefined when there was none or the condition failed. */
  public async delete(
    key: TableKey,
    condition?: { expression: string; names?: Record<string, string>; values?: Item },
  ): Promise<Item | undefined> {
    try {
      const out = await this.client.send(
        new DeleteItemCommand({
          TableName: this.name,
          Key: marshall(key),
          ReturnValues: 'ALL_OLD',
          ...(condition
            ? {
                ConditionExpression: condition.expression,
                ...(condition.names ? { ExpressionAttributeNames: condition.names } : {}),
                ...(condition.values ? { ExpressionAttributeValues: marshall(condition.values) } : {}),
              }
            : {}),
        }),
      );
      return out.Attributes ? unmarshall(out.Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Every item of one partition, page by page. */
  public query(pk: string): Promise<Item[]> {
    return this.pages((startKey) =>
      this.client.send(
        new QueryCommand({
          TableName: this.name,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: marshall({ ':pk': pk }),
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      ),
    );
  }

  /**
   * The keys of up to `limit` items of a (sparse, keys-only) index whose partition key is
   * `partition` and whose sort key is at most `upTo`, lowest first: one Query.
   */
  public async queryIndex(
    index: { readonly name: string; readonly partitionKey: string; readonly sortKey: string },
    partition: string,
    upTo: string,
    limit: number,
  ): Promise<TableKey[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.name,
        IndexName: index.name,
        KeyConditionExpression: '#p = :p AND #s <= :upTo',
        ExpressionAttributeNames: { '#p': index.partitionKey, '#s': index.sortKey },
        ExpressionAttributeValues: marshall({ ':p': partition, ':upTo': upTo }),
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((i) => {
      const item = unmarshall(i);
      return { pk: String(item.pk), sk: String(item.sk) };
    });
  }

  /** Every item that passes `filter`, page by page: for operators' reports, never the retry path. */
  public scan(filter: string, values: Item): Promise<Item[]> {
    return this.pages((startKey) =>
      this.client.send(
        new ScanCommand({
          TableName: this.name,
          FilterExpression: filter,
          ExpressionAttributeValues: marshall(values),
          ExclusiveStartKey: startKey,
        }),
      ),
    );
  }

  private async pages(
    fetch: (startKey: Record<string, AttributeValue> | undefined) => Promise<{
      Items?: Record<string, AttributeValue>[];
      LastEvaluatedKey?: Record<string, AttributeValue>;
    }>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await fetch(startKey);
      items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}

/** The item a failed conditional write returned (ReturnValuesOnConditionCheckFailure), if any. */
export function itemOf(error: ConditionalCheckFailedException): Item | undefined {
  return error.Item ? unmarshall(error.Item) : undefined;
}

/** DynamoDB's answers for a request it throttled (on-demand tables throttle too when traffic jumps). */
const THROTTLING = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded']);

/**
 * A DynamoDB failure the retry function cannot decide around: the event is kept for later. A
 * throttled request (after the SDK's own retries) is a ThrottledError, so that the work waits in
 * the delay queue instead of spending Lambda's two retries of the event.
 */
export function dynamoFault(what: string, error: unknown): TransientFaultError {
  const throttled =
    error instanceof Error &&
    (THROTTLING.has(error.name) || (error as { $retryable?: { throttling?: boolean } }).$retryable?.throttling === true);
  if (throttled) return new ThrottledError(`DynamoDB throttled us: could not ${what}`, { cause: error });
  return new TransientFaultError(`could not ${what} in DynamoDB`, { cause: error });
}
