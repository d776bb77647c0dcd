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
import { ledgerWith } from './fakes';

const deps = depsFromEnvironment();
const ledger = deps.ledger;
const handler = createHandler(() => ({
  ...deps,
  logger: new JsonLogger(() => undefined),
  metrics: new RecordingMetrics(),
  ledger: ledgerWith(ledger, {
    claim: async (k, c) => {
      const result = await ledger.claim(k, c);
      if (result.kind === 'claimed') process.kill(process.pid, 'SIGKILL');
      return result;
    },
  }),
}));

void handler(JSON.parse(process.argv[2] ?? '{}'));
