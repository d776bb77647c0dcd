// Over 300 lines: one in-memory fake per port of the service, each with its adapter's contract.
/**
 * In-memory fakes of the retry service's ports, with the same contracts as the adapters (the
 * ledger's conditional updates included), so the service's branches run in milliseconds.
 */
import type { Location, MetricName } from '../../contract';
import type { DelayedRetryMessage } from '../../lambda/domain/events';
import { plainMatch } from '../../lambda/domain/filters';
import { type Claim, type ClaimResult, ClaimStatus, isOpen, isStale, type LedgerKey, newClaim } from '../../lambda/domain/ledger';
import type { PipelineRef, StageRef } from '../../lambda/domain/refs';
import { type ActionRun, ActionStatus, type ActionView, type StageFailure, type StageView } from '../../lambda/domain/types';
import type {
  BudgetPort,
  BudgetResult,
  ClaimFinish,
  DelayPort,
  LedgerPort,
  LedgerView,
  Logger,
  LogLevel,
  MetricFields,
  MetricsPort,
  NewClaim,
  Notice,
  NotifierPort,
  OpenRecord,
  PipelinePort,
  PolicyContext,
  PolicyReader,
  RescheduleWhy,
  RetryCallOutcome,
  SkipEntry,
  SkipRecord,
  StageLookup,
} from '../../lambda/ports';
import { RetryCallResult } from '../../lambda/ports';
import { RetryService } from '../../lambda/service/retry-service';
import { DEFAULT_SETTINGS, type ServiceDeps } from '../../lambda/service/service-settings';
import type { PolicyPatch, RetryBudget } from '../../policy/policy';

/** The moment the unit tests' failures happen, and the stage execution they fail in. */
export const FAKE_NOW = new Date('2026-03-01T10:15:02Z');
export const FAKE_EXECUTION = '11111111-2222-3333-4444-555555555555';
/** The ledger key of that stage execution. */
export const FAKE_KEY: LedgerKey = {
  account: '123456789012',
  region: 'us-east-1',
  pipeline: 'web-app',
  stage: 'Test',
  executionId: FAKE_EXECUTION,
};

/** A stage failure as an event reports it: web-app's Test stage failed at FAKE_NOW, attempt 1. */
export function stageFailure(overrides: Partial<StageFailure> = {}): StageFailure {
  return {
    eventId: 'e-1',
    account: '123456789012',
    region: 'us-east-1',
    pipeline: 'web-app',
    stage: 'Test',
    executionId: FAKE_EXECUTION,
    occurrence: 1,
    pipelineVersion: 1,
    failedAt: FAKE_NOW,
    ...overrides,
  };
}

/** A failed stage as GetPipelineState would show it. */
export function failedStage(executionId: string, overrides: Partial<StageView> = {}, action: Partial<ActionView> = {}): StageView {
  return {
    pipelineVersion: 1,
    latestExecutionId: executionId,
    status: 'Failed',
    onFailure: undefined,
    retryMetadata: undefined,
    actions: [
      {
        name: 'UnitTests',
        category: 'Test',
        provider: 'CodeBuild',
        actionMode: undefined,
        status: ActionStatus.Failed,
        executionId: 'action-1',
        errorCode: 'JobFailed',
        errorMessage: 'Build timed out',
        summary: undefined,
        ...action,
      },
    ],
    ...overrides,
  };
}

export class FakePipelines implements PipelinePort {
  public lookup: StageLookup = { kind: 'no-pipeline' };
  /** What the next RetryStageExecution calls answer, in order; then `started`. */
  public answers: RetryCallOutcome[] = [];
  public readonly retryCalls: { at: Location; pipeline: string; stage: string; executionId: string; retryMode: string }[] = [];

  /** What ListActionExecutions lists for the stage. */
  public runs: ActionRun[] = [];

  public async getStage(): Promise<StageLookup> {
    return this.lookup;
  }

  /** How often the action runs were read (the evidence before a call after an unclear answer). */
  public actionRunReads = 0;

  public async actionRuns(): Promise<ActionRun[]> {
    this.actionRunReads += 1;
    return this.runs;
  }

  public async retryStage(ref: StageRef, retryMode: string): Promise<RetryCallOutcome> {
    const { account, region, pipeline, stage, executionId } = ref;
    this.retryCalls.push({ at: { account, region }, pipeline, stage, executionId, retryMode });
    return this.answers.shift() ?? { result: RetryCallResult.Started };
  }
}

export class FakePolicies implements PolicyReader {
  public patch: PolicyPatch = {};
  public paused = false;

  public async load(): Promise<PolicyContext> {
    return { layers: { default: this.patch }, paused: this.paused, problems: [] };
  }
}

interface FakeRecord {
  readonly key: LedgerKey;
  retries: number;
  firstFailureAt: Date | undefined;
  readonly claims: Map<number, Claim>;
  readonly skips: Map<number, { reason: string; detail: string }>;
  recovered: boolean;
}

/** The ledger's contract: a claim only for a new occurrence under maxRetries; changes only by the token's holder. */
export class FakeLedger implements LedgerPort {
  public readonly records = new Map<string, FakeRecord>();

  public record(key: LedgerKey): FakeRecord {
    const id = `${key.pipeline}#${key.stage}#${key.executionId}`;
    let r = this.records.get(id);
    if (!r) {
      r = { key, retries: 0, firstFailureAt: undefined, claims: new Map(), skips: new Map(), recovered: false };
      this.records.set(id, r);
    }
    return r;
  }

  public async view(key: LedgerKey, occurrence: number): Promise<LedgerView> {
    const r = this.record(key);
    return {
      snapshot: { retries: r.retries, firstFailureAt: r.firstFailureAt },
      claim: r.claims.get(occurrence),
      open: this.open(r, occurrence),
      retriedFingerprints: this.retriedFingerprints(r, occurrence),
    };
  }

  private retriedFingerprints(r: FakeRecord, except: number): string[] {
    return [...r.claims.values()]
      .filter((c) => c.status === ClaimStatus.Retried && c.occurrence !== except && c.fingerprint !== '')
      .map((c) => c.fingerprint);
  }

  private open(r: FakeRecord, except?: number): Claim[] {
    return [...r.claims.values()].filter((c) => isOpen(c) && c.occurrence !== except);
  }

  public async claim(key: LedgerKey, c: NewClaim): Promise<ClaimResult> {
    const r = this.record(key);
    const existing = r.claims.get(c.occurrence);
    if (existing) return { kind: 'exists', claim: existing };
    if (r.retries >= c.maxRetries) return { kind: 'exhausted', retries: r.retries, open: this.open(r) };
    const claim = newClaim(c, r.retries + 1);
    r.claims.set(c.occurrence, claim);
    r.retries += 1;
    r.firstFailureAt ??= c.failedAt;
    return { kind: 'claimed', claim };
  }

  public async get(key: LedgerKey, occurrence: number): Promise<Claim | undefined> {
    return this.record(key).claims.get(occurrence);
  }

  public async acquire(key: LedgerKey, claim: Claim, token: string, leaseUntil: Date, now: Date): Promise<boolean> {
    return this.change(key, claim, (c) => ({
      ...c,
      status: ClaimStatus.Retrying,
      token,
      leaseUntil: leaseUntil.toISOString(),
      heldSince: now.toISOString(),
    }));
  }

  public async takeDue(
    key: LedgerKey,
    occurrence: number,
    expectedToken: string,
    token: string,
    leaseUntil: Date,
    now: Date,
  ): Promise<(LedgerView & { readonly wasRetrying: boolean | undefined }) | undefined> {
    const r = this.record(key);
    const before = r.claims.get(occurrence);
    if (before?.token !== expectedToken) return undefined;
    const due = before.status === ClaimStatus.Scheduled ? Date.parse(before.dueAt) : Date.parse(before.leaseUntil);
    if ((before.status !== ClaimStatus.Scheduled && before.status !== ClaimStatus.Retrying) || due > now.getTime()) return undefined;
    r.claims.set(occurrence, {
      ...before,
      status: ClaimStatus.Retrying,
      token,
      leaseUntil: leaseUntil.toISOString(),
      heldSince: now.toISOString(),
    });
    return {
      snapshot: { retries: r.retries, firstFailureAt: r.firstFailureAt },
      claim: before,
      open: this.open(r, occurrence),
      retriedFingerprints: this.retriedFingerprints(r, occurrence),
      wasRetrying: before.status === ClaimStatus.Retrying,
    };
  }

  public async reschedule(
    key: LedgerKey,
    claim: Claim,
    token: string,
    dueAt: Date,
    leaseUntil: Date,
    why: RescheduleWhy,
  ): Promise<boolean> {
    return this.change(key, claim, (c) => ({
      ...c,
      status: ClaimStatus.Scheduled,
      token,
      dueAt: dueAt.toISOString(),
      leaseUntil: leaseUntil.toISOString(),
      busyCount: c.busyCount + (why === 'throttled' ? 0 : 1),
      throttleCount: c.throttleCount + (why === 'throttled' ? 1 : 0),
      uncertain: c.uncertain || claim.uncertain || why === 'uncertain',
      ...(why === 'uncertain' || claim.uncertain ? { mayHaveCalledSince: c.mayHaveCalledSince ?? c.heldSince ?? c.claimedAt } : {}),
    }));
  }

  public async makeRecoverable(key: LedgerKey, claim: Claim, now: Date): Promise<boolean> {
    return this.change(key, claim, (c) => ({ ...c, status: ClaimStatus.Retrying, leaseUntil: now.toISOString() }));
  }

  public async finish(key: LedgerKey, claim: Claim, f: ClaimFinish): Promise<boolean> {
    const done = this.change(key, claim, (c) => ({
      ...c,
      // A finished claim's token is the finishing write's own: a second finish of it cannot apply.
      token: `finished-${c.token}`,
      status: f.status,
      outcome: f.outcome,
      reason: f.reason,
      finishedAt: f.now.toISOString(),
    }));
    const r = this.record(key);
    if (done && f.status !== ClaimStatus.Retried && !f.keepSlot && r.retries > 0) r.retries -= 1;
    return done;
  }

  public async release(key: LedgerKey, claim: Claim): Promise<boolean> {
    const r = this.record(key);
    if (r.claims.get(claim.occurrence)?.token !== claim.token) return false;
    r.claims.delete(claim.occurrence);
    r.retries = Math.max(0, r.retries - 1);
    return true;
  }

  public async overdue(cutoff: Date, limit: number): Promise<OpenRecord[]> {
    return [...this.records.values()]
      .map((r) => ({ r, open: this.open(r) }))
      .filter(({ open }) => open.some((c) => Date.parse(c.leaseUntil) <= cutoff.getTime()))
      .slice(0, limit)
      .map(({ r, open }) => ({ key: r.key, retries: r.retries, open, item: {} }));
  }

  public async wake(key: LedgerKey, claim: Claim, token: string, now: Date, leaseUntil: Date): Promise<boolean> {
    return this.change(key, claim, (c) => ({
      ...c,
      token,
      status: ClaimStatus.Scheduled,
      dueAt: now.toISOString(),
      leaseUntil: leaseUntil.toISOString(),
      wakeups: (c.wakeups ?? 0) + 1,
      ...(c.status === ClaimStatus.Retrying
        ? { uncertain: true, mayHaveCalledSince: c.mayHaveCalledSince ?? c.heldSince ?? c.claimedAt }
        : {}),
    }));
  }

  public async dropFromIndex(): Promise<void> {
    // The fake keeps no index: overdue() reads the claims themselves.
  }

  public async recordSkip(key: LedgerKey, skip: SkipEntry): Promise<SkipRecord> {
    const { occurrence, reason, detail, now, failedAt } = skip;
    const r = this.record(key);
    r.firstFailureAt ??= failedAt ?? now;
    const snapshot = { retries: r.retries, firstFailureAt: r.firstFailureAt };
    const claim = r.claims.get(occurrence);
    const id = `skip-${occurrence}-${reason}`;
    // As the table's condition has it: a claim stands unless its holder died.
    if (claim && !isStale(claim, now)) return { first: false, claim, snapshot, id };
    if (r.skips.get(occurrence)?.reason === reason) return { first: false, claim, snapshot, id };
    r.skips.set(occurrence, { reason, detail });
    return { first: true, claim, snapshot, id };
  }

  public async withdrawSkip(key: LedgerKey, occurrence: number, id: string): Promise<void> {
    const r = this.record(key);
    // A skip's id is its occurrence and reason here.
    if (`skip-${occurrence}-${r.skips.get(occurrence)?.reason}` === id) r.skips.delete(occurrence);
  }

  public async recordRecovery(key: LedgerKey): Promise<number | undefined> {
    const r = this.record(key);
    if (r.retries === 0 || r.recovered) return undefined;
    r.recovered = true;
    return r.retries;
  }

  private change(key: LedgerKey, claim: Claim, next: (c: Claim) => Claim): boolean {
    const r = this.record(key);
    const current = r.claims.get(claim.occurrence);
    if (current?.token !== claim.token) return false;
    r.claims.set(claim.occurrence, next(current));
    return true;
  }
}

export class FakeDelays implements DelayPort {
  public readonly sent: { message: DelayedRetryMessage; delaySeconds: number }[] = [];
  /** Sends fail while this is set. */
  public failing: Error | undefined;

  public async send(message: DelayedRetryMessage, delaySeconds: number): Promise<void> {
    if (this.failing) throw this.failing;
    this.sent.push({ message, delaySeconds });
  }
}

export class FakeBudgets implements BudgetPort {
  public readonly taken = new Set<string>();
  public open: { used: number; reopensAt: Date } | undefined;

  public async reserve(_pipeline: PipelineRef, id: string, _budget: RetryBudget): Promise<BudgetResult> {
    if (this.open) return { ok: false, ...this.open };
    this.taken.add(id);
    return { ok: true, used: this.taken.size };
  }

  public async release(_pipeline: PipelineRef, id: string): Promise<void> {
    this.taken.delete(id);
  }
}

export class FakeNotifier implements NotifierPort {
  public readonly notices: Notice[] = [];

  public async notify(notice: Notice): Promise<void> {
    this.notices.push(notice);
  }
}

export class FakeMetrics implements MetricsPort {
  public readonly counts: { name: MetricName; dimensions: Record<string, string> }[] = [];

  public count(name: MetricName, _pipeline: string, fields: MetricFields = {}): void {
    this.counts.push({ name, dimensions: fields.dimensions ?? {} });
  }
}

export class FakeLogger implements Logger {
  public readonly lines: ({ level: LogLevel; message: string } & Record<string, unknown>)[] = [];

  public log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level, message, ...fields });
  }

  public decisions(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.message === 'decision');
  }
}

/** A port that is `inner` but for the methods given: for faults and crashes at one step. */
function portWith<T extends object>(inner: T, overrides: Partial<T>): T {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const own = overrides[property as keyof T];
      if (own) return own;
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export const ledgerWith = (inner: LedgerPort, overrides: Partial<LedgerPort>): LedgerPort => portWith(inner, overrides);
export const pipelinesWith = (inner: PipelinePort, overrides: Partial<PipelinePort>): PipelinePort => portWith(inner, overrides);

/**
 * The retry service over fakes of every port, with a clock the test moves (from FAKE_NOW), tokens
 * numbered token-1, token-2, … and no jitter (times a test can assert; jitter is the domain's).
 */
export function serviceWorld(policy: PolicyPatch = {}, view: StageView | undefined = failedStage(FAKE_EXECUTION)) {
  const clock = { now: FAKE_NOW.getTime() };
  let tokens = 0;
  const fakes = {
    pipelines: new FakePipelines(),
    policies: new FakePolicies(),
    ledger: new FakeLedger(),
    delays: new FakeDelays(),
    budgets: new FakeBudgets(),
    notifier: new FakeNotifier(),
    metrics: new FakeMetrics(),
    logger: new FakeLogger(),
  };
  fakes.policies.patch = policy;
  fakes.pipelines.lookup = view ? { kind: 'found', view } : { kind: 'no-stage' };
  const deps: ServiceDeps = {
    ...fakes,
    clock: () => new Date(clock.now),
    newToken: () => `token-${++tokens}`,
    random: () => 0,
    settings: DEFAULT_SETTINGS,
    match: plainMatch,
  };
  const advance = (seconds: number) => {
    clock.now += seconds * 1000;
  };
  return { ...fakes, deps, service: new RetryService(deps), advance, record: () => fakes.ledger.record(FAKE_KEY) };
}
