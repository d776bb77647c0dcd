import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * Time spent inside the local services, summed over every request they serve: from the moment a
 * request's headers are read to the moment its reply is written. The bench subtracts it from a
 * handler's wall time to get what the client side (the product's code and the SDK) costs.
 */
export const serviceTime = {
  totalMs: 0,
};

/** Counts a server's request time into `serviceTime`. */
export function timeRequests(server: Server): void {
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    res.once('finish', () => {
      serviceTime.totalMs += performance.now() - started;
    });
  });
}
