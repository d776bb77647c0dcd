/**
 * Runs the production handler in its own process and kills that process (SIGKILL, no cleanup)
 * right after the ledger claim succeeds, before RetryStageExecution: the crash window that
 * exactly-once must survive. The event comes as JSON on argv[2]; endpoints come from the
 * environment, as in Lambda.
 */
import { JsonLogger } from '../../lambda/adapters/json-logger';
import { depsFromEnvironment } from '../../lambda/dependencies';
import { createHandler } from '../../lambda/handler';
import { RecordingMetrics } from '../../local/local-aws';

const deps = depsFromEnvironment();
const ledger = deps.ledger;
const handler = createHandler(() => ({
  ...deps,
  logger: new JsonLogger(() => undefined),
  metrics: new RecordingMetrics(),
  ledger: {
    ...ledger,
    view: (k, o) => ledger.view(k, o),
    recordRecovery: (k, n) => ledger.recordRecovery(k, n),
    get: (k, o) => ledger.get(k, o),
    acquire: (k, c, t, l) => ledger.acquire(k, c, t, l),
    reschedule: (k, c, t, d, l) => ledger.reschedule(k, c, t, d, l),
    finish: (k, c, f) => ledger.finish(k, c, f),
    release: (k, c) => ledger.release(k, c),
    recordSkip: (k, o, r, d, n, f) => ledger.recordSkip(k, o, r, d, n, f),
    claim: async (k, c) => {
      const result = await ledger.claim(k, c);
      if (result.kind === 'claimed') process.kill(process.pid, 'SIGKILL');
      return result;
    },
  },
}));

void handler(JSON.parse(process.argv[2] ?? '{}'));
