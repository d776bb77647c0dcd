/**
 * The production handler in a process of its own, as a Lambda sandbox runs it: the event comes as
 * JSON on argv[2], the clock's time (epoch milliseconds) on argv[3], endpoints from the
 * environment. The parent kills the process (SIGKILL) at the step it chooses, from the fault
 * proxy the process's calls go through: nothing in here knows when it will die.
 */
import { JsonLogger } from '../../lambda/adapters/json-logger';
import { depsFromEnvironment } from '../../lambda/dependencies';
import { createHandler } from '../../lambda/handler';
import { RecordingMetrics } from '../../local/local-aws';

const now = Number(process.argv[3] ?? Date.now());
const handler = createHandler(() => ({
  ...depsFromEnvironment(process.env, () => new Date(now)),
  logger: new JsonLogger(() => undefined),
  metrics: new RecordingMetrics(),
  random: () => 0,
}));

handler(JSON.parse(process.argv[2] ?? '{}')).then(
  () => process.exit(0),
  () => process.exit(1),
);
