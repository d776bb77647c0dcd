import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** How long a closing server waits for the requests it is serving. */
const DRAIN_TIMEOUT_MS = 15_000;

/**
 * Counts the requests a server is serving, so that it can close only after they are answered:
 * a service closed under a request it is still working on (dynalite mid-write) fails in ways a
 * real one never does.
 */
export class InFlight {
  private count = 0;
  private waiting: (() => void)[] = [];

  public constructor(server: Server) {
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.count += 1;
      res.once('close', () => {
        this.count -= 1;
        if (this.count === 0) for (const wake of this.waiting.splice(0)) wake();
      });
    });
  }

  public get size(): number {
    return this.count;
  }

  /** Resolves once no request is in flight, or after `timeoutMs`; false when they did not finish. */
  public drained(timeoutMs = DRAIN_TIMEOUT_MS): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiting.push(wake);
    });
  }
}

/**
 * Closes a server the way a service goes away for maintenance: no new connections, the requests
 * in flight answered, then every kept-alive connection closed.
 */
export async function closeGracefully(server: Server, inFlight: InFlight): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  await inFlight.drained();
  server.closeAllConnections();
  await closed;
}
