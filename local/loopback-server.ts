import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeGracefully, InFlight } from './in-flight';
import { timeRequests } from './service-time';

/** An HTTP server on a free loopback port: the shared part of the local AWS emulators. */
export abstract class LoopbackServer {
  private server: Server | undefined;
  private inFlight: InFlight | undefined;

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  public async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    timeRequests(this.server);
    this.inFlight = new InFlight(this.server);
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this.endpoint;
  }

  /** Requests being served right now. */
  public get busy(): number {
    return this.inFlight?.size ?? 0;
  }

  public get port(): number {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error(`${this.constructor.name} is not started`);
    return address.port;
  }

  public get endpoint(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error(`${this.constructor.name} is not started`);
    return `http://127.0.0.1:${address.port}`;
  }

  /** Stops taking connections, answers the requests in flight, then closes. */
  public async stop(): Promise<void> {
    const server = this.server;
    const inFlight = this.inFlight;
    this.server = undefined;
    if (server && inFlight) await closeGracefully(server, inFlight);
  }

  public static async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  public static sendJson(res: ServerResponse, status: number, contentType: string, body: unknown, requestId: string): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': requestId });
    res.end(text);
  }
}
