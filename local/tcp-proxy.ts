import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a local service, so tests can take the service "away" (every
 * connection refused or cut) and bring it back with its state intact, and count requests.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  /** Connections accepted (one per HTTP keep-alive connection, not per request). */
  public connections = 0;
  /** Chunks clients sent through (about one per request). */
  public forwarded = 0;
  /** Go down by itself once this many chunks went through: an outage at a point in the traffic, not in time. */
  private downAt: number | undefined;
  /** Resolves when the outage `downAfter` asked for has begun. */
  public wentDown: Promise<void> = Promise.resolve();

  public constructor(private readonly targetPort: number) {}

  public async start(port = 0): Promise<string> {
    this.server = createServer((client) => {
      this.connections += 1;
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.on('data', () => {
        this.forwarded += 1;
        if (this.downAt !== undefined && this.forwarded >= this.downAt) {
          this.downAt = undefined;
          this.wentDown = this.down();
        }
      });
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.endpoint;
  }

  public get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The service goes away by itself after `chunks` more client chunks (about as many requests). */
  public downAfter(chunks: number): void {
    this.downAt = this.forwarded + chunks;
  }

  /** The service goes away: open connections are cut and new ones refused. */
  public async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The service comes back on the same port (if it was away). */
  public async up(): Promise<void> {
    if (!this.server) await this.start(this.port);
  }

  public async stop(): Promise<void> {
    await this.down();
  }
}
