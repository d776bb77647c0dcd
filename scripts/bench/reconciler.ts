import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ClaimStatus } from '../../lambda/domain/ledger';
import type { LocalAws, ManualClock } from '../../local/local-aws';

/** One reconciler run: DynamoDB requests by operation, SQS sends, wall time. */
export interface ReconcileRun {
  readonly dynamodb: Record<string, number>;
  readonly sends: number;
  readonly ms: number;
}

export interface ReconcilerFigures {
  readonly idle: ReconcileRun;
  /** 1,000 open claims, none past its deadline. */
  readonly pending: ReconcileRun;
  /** 1,000 claims past their deadline: the runs it took to wake them all. */
  readonly overdue: readonly ReconcileRun[];
}

/**
 * What the reconciler costs: on an idle table, with 1,000 open claims that are not yet due, and
 * with 1,000 past their deadline (every holder dead). Each run is the production handler given
 * the scheduled rule's event.
 */
export async function measureReconciler(aws: LocalAws, clock: ManualClock, count = 1000): Promise<ReconcilerFigures> {
  const handler = aws.handler({ sink: () => undefined, clock: clock.now });
  const event = () => ({
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: clock.now().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: {},
  });
  const run = async (): Promise<ReconcileRun> => {
    const before = new Map(aws.dynamo.requests);
    const sent = aws.sqs.sent.length;
    const t0 = performance.now();
    await handler(event());
    const ms = performance.now() - t0;
    const dynamodb = Object.fromEntries(
      [...aws.dynamo.requests].map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const).filter(([, n]) => n > 0),
    );
    return { dynamodb, sends: aws.sqs.sent.length - sent, ms };
  };
  // Everything earlier in the bench has settled: what remains is its own pending work, moved past.
  clock.advance(86_400);
  while ((await run()).sends > 0) {
    aws.sqs.reset();
  }
  aws.sqs.reset();
  const idle = await run();

  const store = aws.ledgerStore();
  const now = clock.now();
  for (let i = 0; i < count; i++) {
    await store.claim(
      { account: '123456789012', region: 'us-east-1', pipeline: `reconcile-${i % 50}`, stage: 'Test', executionId: randomUUID() },
      {
        occurrence: 1,
        status: ClaimStatus.Scheduled,
        retryMode: 'FAILED_ACTIONS',
        dueAt: new Date(now.getTime() + 3600_000),
        leaseUntil: new Date(now.getTime() + 3900_000),
        token: randomUUID(),
        fingerprint: '',
        maxRetries: 2,
        failedAt: now,
        now,
      },
    );
  }
  const pending = await run();
  clock.advance(3901);
  const overdue: ReconcileRun[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await run();
    if (r.sends === 0) break;
    overdue.push(r);
  }
  aws.sqs.reset();
  return { idle, pending, overdue };
}
