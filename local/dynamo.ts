import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { OPEN_CLAIMS_INDEX, TABLE_SCHEMA } from '../contract';
import { closeGracefully, InFlight } from './in-flight';
import { timeRequests } from './service-time';

// dynalite ships no types.
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

/** Embedded DynamoDB (dynalite, in memory), on a free loopback port. */
export class LocalDynamo {
  private server: Server | undefined;
  private inFlight: InFlight | undefined;
  /** Requests served, by operation (X-Amz-Target without the prefix). */
  public readonly requests = new Map<string, number>();
  private portNumber = 0;

  public async start(port = 0): Promise<string> {
    this.server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    timeRequests(this.server);
    this.inFlight = new InFlight(this.server);
    this.server.on('request', (req: { headers: Record<string, unknown> }) => {
      const op = String(req.headers['x-amz-target'] ?? '').replace('DynamoDB_20120810.', '');
      this.requests.set(op, (this.requests.get(op) ?? 0) + 1);
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    this.portNumber = (this.server.address() as AddressInfo).port;
    return this.endpoint;
  }

  /** Requests being served right now. */
  public get busy(): number {
    return this.inFlight?.size ?? 0;
  }

  public get port(): number {
    return this.portNumber;
  }

  public get endpoint(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  public client(): DynamoDBClient {
    return new DynamoDBClient({
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  }

  /** Creates a table with the key schema and the index the stack deploys. */
  public async createTable(name: string): Promise<void> {
    const client = this.client();
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_SCHEMA.sortKey, AttributeType: 'S' },
          { AttributeName: OPEN_CLAIMS_INDEX.partitionKey, AttributeType: 'S' },
          { AttributeName: OPEN_CLAIMS_INDEX.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: OPEN_CLAIMS_INDEX.name,
            KeySchema: [
              { AttributeName: OPEN_CLAIMS_INDEX.partitionKey, KeyType: 'HASH' },
              { AttributeName: OPEN_CLAIMS_INDEX.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      }),
    );
    client.destroy();
  }

  /**
   * Stops taking connections, lets the requests in flight finish, then closes (dynalite closes
   * its database with the server): nothing is ever written to a closed database.
   */
  public async stop(): Promise<void> {
    const server = this.server;
    const inFlight = this.inFlight;
    this.server = undefined;
    if (server && inFlight) await closeGracefully(server, inFlight);
  }
}
