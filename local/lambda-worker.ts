/**
 * One Lambda sandbox as a process of its own: the production handler, built from the environment
 * (its endpoints point at a fault proxy), handling one invocation at a time as the parent sends
 * them over IPC, each with the simulated time it runs at. The parent kills the process (SIGKILL)
 * when it chooses, from the proxy: nothing in here knows when it will die.
 */
import { JsonLogger } from '../lambda/adapters/json-logger';
import { depsFromEnvironment } from '../lambda/dependencies';
import { createHandler } from '../lambda/handler';
import { RecordingMetrics } from './local-aws';

interface Invocation {
  readonly id: number;
  readonly input: unknown;
  readonly now: number;
}

let now = Date.now();
const handler = createHandler(() => ({
  ...depsFromEnvironment(process.env, () => new Date(now)),
  logger: new JsonLogger(() => undefined),
  metrics: new RecordingMetrics(),
  random: () => 0,
}));

process.on('message', (message: Invocation) => {
  now = message.now;
  handler(message.input).then(
    (output) => process.send?.({ id: message.id, ok: true, output }),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
process.send?.({ ready: true });
