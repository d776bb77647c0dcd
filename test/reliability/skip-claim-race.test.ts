import { randomUUID } from 'node:crypto';
import { ClaimStatus } from '../../lambda/domain/ledger';
import type { ProxiedCall } from '../../local/fault-proxy';
import { LambdaSimulator } from '../../local/lambda-simulator';
import { LogCapture, ManualClock, standardPipeline } from '../../local/local-aws';
import type { PolicyPatch } from '../../policy/policy';
import { transientRules } from '../../policy/rules';
import { HEAVY_TEST_TIMEOUT_MS, ledgerKey, scheduledEvent } from '../support';
import { at, CLASS_MEMBER, claimWrite, skipWrite, useClassWorld } from '../support/class-world';

/**
 * Adversarial pass 5: the conditional skip write (f0090e0) raced against claims, takeovers,
 * lost replies and skewed clocks; and the RetryStageExecution that STS throttling keeps from
 * being sent (e32c480).
 */
const { aws, ownFaults, member, pipelineWith, setup, record, noticesOf, strandedClaim, claimHeldElsewhere } = useClassWorld();
const MEMBER = CLASS_MEMBER;

const acquireWrite = (call: ProxiedCall): boolean =>
  call.operation === 'UpdateItem' && JSON.stringify(call.input).includes('heldSince') && !JSON.stringify(call.input).includes('takenFrom');

/** After the first part of a test, let time run: the reconciler wakes and the instances take what is due. */
async function settle(clock: ManualClock, rounds = 4) {
  const lambda = new LambdaSimulator(aws, clock, { instances: 2 });
  const lost: unknown[] = [];
  for (let i = 0; i < rounds; i++) {
    clock.advance(900);
    await aws.handler({ clock: clock.now })(scheduledEvent(clock.now()));
    const r = await lambda.run([]);
    lost.push(...r.lost);
  }
  return lost;
}

describe('A skip write whose answer is lost', () => {
  it.each(['apply-then-500', 'apply-then-reset'] as const)(
    'recognises its own skip by its id after %s and tells operators once, retrying nothing',
    async (fault) => {
      // Prepare
      const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' });
      const { fail } = setup();
      const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
      aws.providers.codebuild.throttle('BatchGetBuilds', 2);
      const proxy = await ownFaults();
      proxy.inject({ match: skipWrite, fault, times: 1 });

      // Act
      await fail(pipeline);

      // Assess
      expect(proxy.records.filter((r) => skipWrite(r) && r.fault === fault)).toHaveLength(1);
      const after = await record(pipeline, execution);
      expect(after?.skips).toEqual([expect.objectContaining({ occurrence: 1, reason: 'no-retry-rule-match' })]);
      expect(after?.claims).toEqual([]);
      expect(noticesOf(pipeline)).toHaveLength(1);
      expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    },
  );
});

describe('A skip that settles a stale claim while the reconciler takes the same claim over', () => {
  it('records no skip beside the claim the reconciler now holds when the takeover lands right after the skip write was applied', async () => {
    // Prepare: a stranded claim whose lease is over; the redelivery cannot read CodeBuild (skip).
    const { pipeline, execution, clock, event, proxy } = await strandedClaim();
    const key = ledgerKey(pipeline, 'Test', execution);
    const store = aws.ledgerStore();
    const stale = await store.get(key, 1);
    expect(stale).toBeDefined();
    clock.current = Date.parse(stale?.leaseUntil ?? '') + 1000;
    aws.providers.codebuild.throttle('BatchGetBuilds', 2);
    let takeover: Promise<boolean> | undefined;
    let done = false;
    proxy.afterApply = (call) => {
      if (!skipWrite(call) || takeover || !stale) return undefined;
      const now = new Date(clock.current);
      takeover = store.acquire(key, stale, randomUUID(), new Date(now.getTime() + 120_000), now).finally(() => {
        done = true;
      });
      return 'drop';
    };
    proxy.beforeCall = (call) => (skipWrite(call) && takeover && !done ? 'drop' : undefined);

    // Act
    const logs = new LogCapture();
    await aws.handler({ sink: logs.sink, clock: clock.now })(structuredClone(event));
    const took = await takeover;
    proxy.afterApply = undefined;
    proxy.beforeCall = undefined;
    const lost = await settle(clock);

    // Assess
    expect(took).toBe(true);
    const after = await record(pipeline, execution);
    expect(aws.codepipeline.acceptedRetries(pipeline).length).toBeLessThanOrEqual(1);
    expect(lost).toEqual([]);
    expect({ skips: after?.skips, notices: noticesOf(pipeline).map((n) => n.subject) }).toEqual({ skips: [], notices: [] });
  });

  it('sends no "not retryable" notice when the reconciler takes the stale claim over between the skip write and the skip’s own takeover, and the reconciler retries', async () => {
    // Prepare
    const { pipeline, execution, clock, event, proxy } = await strandedClaim();
    const key = ledgerKey(pipeline, 'Test', execution);
    const store = aws.ledgerStore();
    const stale = await store.get(key, 1);
    clock.current = Date.parse(stale?.leaseUntil ?? '') + 1000;
    aws.providers.codebuild.throttle('BatchGetBuilds', 2);
    let skipped = false;
    let takeover: Promise<boolean> | undefined;
    let done = false;
    proxy.beforeCall = (call) => {
      if (skipWrite(call)) skipped = true;
      if (!skipped || !acquireWrite(call) || !stale) return undefined;
      if (takeover) return done ? undefined : 'drop';
      const now = new Date(clock.current);
      takeover = store.acquire(key, stale, randomUUID(), new Date(now.getTime() + 120_000), now).finally(() => {
        done = true;
      });
      return 'drop';
    };

    // Act
    await aws.handler({ clock: clock.now })(structuredClone(event));
    const took = await takeover;
    proxy.beforeCall = undefined;
    const lost = await settle(clock);

    // Assess
    expect(took).toBe(true);
    const retries = aws.codepipeline.acceptedRetries(pipeline).length;
    expect(retries).toBeLessThanOrEqual(1);
    expect(lost).toEqual([]);
    const after = await record(pipeline, execution);
    expect(after?.claims.filter((c) => c.status === ClaimStatus.Scheduled || c.status === ClaimStatus.Retrying)).toEqual([]);
    // A retry happened or operators were told, never both.
    expect({ retries, notices: noticesOf(pipeline).length }).toEqual(
      retries === 1 ? { retries: 1, notices: 0 } : { retries: 0, notices: 1 },
    );
  });

  it('settles a stranded claim whose lease ends exactly now with the skip, once, and leaves nothing open', async () => {
    // Prepare
    const { pipeline, execution, clock, event } = await strandedClaim();
    const stale = await aws.ledgerStore().get(ledgerKey(pipeline, 'Test', execution), 1);
    clock.current = Date.parse(stale?.leaseUntil ?? '');
    aws.providers.codebuild.throttle('BatchGetBuilds', 2);

    // Act
    await aws.handler({ clock: clock.now })(structuredClone(event));
    const mid = await record(pipeline, execution);
    const lost = await settle(clock);

    // Assess
    expect(mid?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Abandoned })]);
    expect(mid?.skips).toEqual([expect.objectContaining({ reason: 'no-retry-rule-match' })]);
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(0);
    expect(noticesOf(pipeline)).toHaveLength(1);
    expect(lost).toEqual([]);
  });
});

describe('A skip beside a live claim', () => {
  it.each([
    ['a second ahead (well within the lease)', 1_000, true],
    ['five minutes ahead (beyond the two-minute lease)', 300_000, false],
  ] as const)(
    'never retries twice when the redelivering instance’s clock runs %s of the claim holder’s, and leaves the claim alone while it is within the lease',
    async (_case, skew, within) => {
      // Prepare: another instance claimed the failure a moment ago (lease two minutes) and is retrying it.
      const pipeline = await pipelineWith({ retryOn: transientRules() });
      const { clock } = setup();
      const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
      aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
      const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
      const now = new Date(clock.current);
      await claimHeldElsewhere(pipeline, execution, now);
      aws.providers.codebuild.throttle('BatchGetBuilds', 20);

      // Act: the redelivery runs on an instance whose clock is ahead.
      const ahead = new ManualClock(clock.current + skew);
      await aws.handler({ clock: ahead.now })(structuredClone(event));

      // Assess: leases assume clocks agree within them; beyond, the redelivery takes the claim for its holder's dead.
      const after = await record(pipeline, execution);
      expect(aws.codepipeline.acceptedRetries(pipeline).length).toBeLessThanOrEqual(1);
      if (within) {
        expect(after?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retrying })]);
        expect({ skips: after?.skips, notices: noticesOf(pipeline).map((n) => n.subject) }).toEqual({ skips: [], notices: [] });
      } else {
        expect(after?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Abandoned })]);
        expect(after?.claims[0]?.reason).toContain('slot stays counted');
      }
    },
  );

  it('writes no skip and sends no notice for a redelivery of a retried failure whose event has no attempt number (fallback occurrence)', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules() });
    const { clock, run } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now()) as { detail: Record<string, unknown> };
    delete event.detail['pipeline-execution-attempt'];
    await run(structuredClone(event));
    aws.providers.codebuild.throttle('BatchGetBuilds', 20);

    // Act
    clock.advance(5);
    await aws.handler({ clock: clock.now })(structuredClone(event));

    // Assess
    expect(aws.codepipeline.acceptedRetries(pipeline)).toHaveLength(1);
    const after = await record(pipeline, execution);
    expect(after?.claims).toHaveLength(1);
    expect(after?.skips).toEqual([]);
    expect(noticesOf(pipeline)).toEqual([]);
  });

  it('writes no skip beside the live claim when the policy is switched to observe before a redelivery', async () => {
    // Prepare
    const pipeline = await pipelineWith({ retryOn: transientRules(), cooldownSeconds: 60, jitter: 'none' });
    const { clock, run } = setup();
    const execution = aws.codepipeline.failNewExecution(pipeline, 'Test', ['UnitTests']);
    aws.providers.build(at(pipeline), { phase: 'PROVISIONING' });
    const event = aws.codepipeline.stageFailedEvent(pipeline, 'Test', clock.now());
    await run(structuredClone(event));
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline }, { mode: 'observe' } as PolicyPatch, 'test', new Date(clock.current));

    // Act
    clock.advance(5);
    await aws.handler({ clock: clock.now })(structuredClone(event));

    // Assess
    const after = await record(pipeline, execution);
    expect(after?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Scheduled })]);
    expect(after?.skips).toEqual([]);
    expect(noticesOf(pipeline)).toEqual([]);
  });
});

describe('STS throttling the member role a RetryStageExecution needs', () => {
  async function memberFailure(policy: PolicyPatch) {
    const clock = new ManualClock(Date.now());
    aws.sts.now = () => clock.current;
    const env = setup(clock);
    const pipeline = `advm-${randomUUID().slice(0, 8)}`;
    member().createPipeline(standardPipeline(pipeline));
    const execution = member().failNewExecution(pipeline, 'Test', ['UnitTests']);
    await aws.policies().setPolicy({ kind: 'pipeline', pipeline, account: MEMBER.account }, policy, 'test', new Date());
    const key = { ...MEMBER, pipeline, stage: 'Test', executionId: execution };
    return { ...env, pipeline, execution, key };
  }

  /** Runs what comes due, as SQS would (a failed message comes back), `rounds` times. */
  async function drain(run: (e: unknown) => Promise<unknown>, clock: ManualClock, rounds: number, step: number) {
    for (let i = 0; i < rounds; i++) {
      clock.advance(step);
      const due = aws.sqs.takeVisible();
      if (!due) continue;
      const answer = (await run(due)) as { batchItemFailures?: unknown[] } | undefined;
      if ((answer?.batchItemFailures?.length ?? 0) > 0) aws.sqs.returnToQueue(due.Records);
    }
  }

  it(
    'ends the claim with a reason and gives its slot back when STS throttles the role past the claim’s throttle bounds',
    async () => {
      // Prepare (the STS client's own backoff between attempts is real time: the heavy tests' budget)
      const { run, clock, pipeline, key } = await memberFailure({ cooldownSeconds: 3500, jitter: 'none' } as PolicyPatch);
      await run(member().stageFailedEvent(pipeline, 'Test', clock.now()));
      aws.sts.throttling = true;

      // Act
      clock.advance(3500);
      await drain(run, clock, 80, 90);
      await aws.handler({ clock: clock.now })(scheduledEvent(clock.now()));

      // Assess
      expect(aws.sts.throttled).toBeGreaterThan(40);
      expect(member().acceptedRetries(pipeline)).toHaveLength(0);
      const end = await aws.ledger().getRecord(key);
      expect(end?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Abandoned })]);
      expect(String(end?.claims[0]?.outcome ?? end?.claims[0]?.reason)).toMatch(/throttled-too-long/);
      expect(end?.retries).toBe(0);
      expect(aws.sqs.pending().filter((m) => m.body.includes(pipeline))).toHaveLength(0);
    },
    HEAVY_TEST_TIMEOUT_MS,
  );

  it('reschedules, then retries once, when STS starts throttling the member role right after the first delivery claimed its immediate retry (no cooldown)', async () => {
    // Prepare: credentials that last a minute (renewed at every call); STS throttles once the claim is written.
    const { run, clock, pipeline, key } = await memberFailure({});
    const proxy = await ownFaults();
    let claimed = false;
    proxy.afterApply = (call) => {
      if (claimWrite(call)) claimed = true;
      return undefined;
    };
    let throttling = false;
    Object.defineProperty(aws.sts, 'throttling', {
      get: () => throttling || claimed,
      set: (v: boolean) => {
        throttling = v;
      },
      configurable: true,
    });
    aws.sts.durationSeconds = 60;
    try {
      // Act
      await run(member().stageFailedEvent(pipeline, 'Test', clock.now()));
      const mid = await aws.ledger().getRecord(key);
      const throttledAtRetry = aws.sts.throttled;
      claimed = false;
      proxy.afterApply = undefined;
      await drain(run, clock, 10, 90);
      await aws.handler({ clock: clock.now })(scheduledEvent(clock.now()));

      // Assess
      expect(throttledAtRetry).toBeGreaterThan(0);
      expect(mid?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Scheduled })]);
      expect(member().acceptedRetries(pipeline)).toHaveLength(1);
      const end = await aws.ledger().getRecord(key);
      expect(end?.claims).toEqual([expect.objectContaining({ status: ClaimStatus.Retried })]);
    } finally {
      aws.sts.durationSeconds = 3600;
      Object.defineProperty(aws.sts, 'throttling', { value: false, writable: true, configurable: true, enumerable: true });
    }
  });

  it('leaves a way forward (no claim left retrying for good) when the member role is removed before the due time, and retries once when it is back', async () => {
    // Prepare
    const { run, clock, pipeline, key } = await memberFailure({ cooldownSeconds: 3500, jitter: 'none' } as PolicyPatch);
    await run(member().stageFailedEvent(pipeline, 'Test', clock.now()));
    const role = aws.memberRoleArn(MEMBER);
    aws.sts.roles.delete(role);
    let mid: Awaited<ReturnType<typeof record>>;
    try {
      // Act: due with no role; then the member stack is fixed.
      clock.advance(3501);
      await drain(run, clock, 3, 90);
      mid = await aws.ledger().getRecord(key);
    } finally {
      aws.sts.roles.add(role);
    }
    const logs = new LogCapture();
    const fresh = aws.handler({ sink: logs.sink, clock: clock.now });
    await drain(fresh, clock, 5, 900);
    for (let i = 0; i < 3; i++) {
      clock.advance(900);
      await aws.handler({ clock: clock.now })(scheduledEvent(clock.now()));
      await drain(fresh, clock, 2, 60);
    }

    // Assess
    expect(mid?.claims).toHaveLength(1);
    const end = await aws.ledger().getRecord(key);
    const retries = member().acceptedRetries(pipeline).length;
    expect(retries).toBeLessThanOrEqual(1);
    expect(end?.claims.filter((c) => c.status === ClaimStatus.Retrying || c.status === ClaimStatus.Scheduled)).toEqual([]);
    expect(retries === 1 || (end?.claims[0]?.status === ClaimStatus.Abandoned && noticesOf(pipeline).length > 0)).toBe(true);
  });
});
