/**
 * What the retry service is set up with: its ports and collaborators (ServiceDeps, built from the
 * environment by lambda/dependencies.ts, or from fakes by the tests) and its settings, with their
 * defaults; and what one delivery comes to (Result).
 */
import type { Matcher } from '../domain/filters';
import type { Membership } from '../domain/membership';
import type { Outcome } from '../domain/reasons';
import type {
  BudgetPort,
  DelayPort,
  LedgerPort,
  Logger,
  MetricsPort,
  NotifierPort,
  PipelinePort,
  PolicyReader,
  ProviderPort,
} from '../ports';

export interface ServiceSettings {
  /** How long a claim's holder may take to call RetryStageExecution before another delivery may take over. */
  readonly leaseSeconds: number;
  /** When a scheduled retry's message seems lost, how long after its due time a redelivery takes it over. */
  readonly scheduledGraceSeconds: number;
  /** Wait before trying again when CodePipeline answers Conflict or the concurrency limit. */
  readonly busyRetryDelaySeconds: number;
  /** Give up after this many busy (or unclear) answers for one claim. */
  readonly maxBusyRetries: number;
  /** The first wait after a throttled call; it doubles with each further one, up to the maximum. */
  readonly throttleBaseDelaySeconds: number;
  readonly throttleMaxDelaySeconds: number;
  /** Give up (and say so) after this many throttled waits for one failure. */
  readonly maxThrottleDeferrals: number;
  /** After an unclear answer that the live state does not settle, look again this much later. */
  readonly ambiguousRecheckSeconds: number;
  /** How long the stage's own onFailure retry gets to run before our policy applies. */
  readonly nativeRetryWaitSeconds: number;
  /** When the live state lags behind a failure event, read it again this much later (doubling each time)… */
  readonly staleRecheckSeconds: number;
  /** …this many times, before the failure is dropped (and the drop recorded). */
  readonly maxStaleChecks: number;
  /** A failure refused only because earlier claims hold the slots waits for them this long after it failed… */
  readonly maxSlotWaitSeconds: number;
  /** …each time until the last of them is due or its lease ends, and this much longer (at least this, doubling). */
  readonly slotWaitMarginSeconds: number;
  /** The most overdue records the reconciler takes on in one run. */
  readonly reconcileBatch: number;
  /** The reconciler gives up on a claim (and says so) after waking it this many times. */
  readonly maxWakeups: number;
  /** The accounts and regions an organization deployment serves; undefined in a single-account deployment. */
  readonly membership: Membership | undefined;
  /** Classify every failure (for the report), not only those whose policy has a `class` rule. */
  readonly classifyAllFailures: boolean;
}

export const DEFAULT_SETTINGS: ServiceSettings = {
  leaseSeconds: 120,
  scheduledGraceSeconds: 300,
  busyRetryDelaySeconds: 60,
  maxBusyRetries: 10,
  throttleBaseDelaySeconds: 2,
  throttleMaxDelaySeconds: 60,
  maxThrottleDeferrals: 40,
  ambiguousRecheckSeconds: 30,
  nativeRetryWaitSeconds: 300,
  staleRecheckSeconds: 10,
  maxStaleChecks: 3,
  // The longest cooldown (12 h) and two hours more: every open claim has ended by then.
  maxSlotWaitSeconds: 14 * 3600,
  slotWaitMarginSeconds: 5,
  reconcileBatch: 200,
  maxWakeups: 12,
  membership: undefined,
  classifyAllFailures: false,
};

/** Everything the service needs, as ports: the handler builds the real ones, tests hand in fakes. */
export interface ServiceDeps {
  readonly pipelines: PipelinePort;
  readonly policies: PolicyReader;
  readonly ledger: LedgerPort;
  readonly delays: DelayPort;
  readonly logger: Logger;
  readonly clock: () => Date;
  readonly newToken: () => string;
  /** Numbers in [0, 1) for jitter. */
  readonly random: () => number;
  readonly budgets: BudgetPort;
  readonly metrics: MetricsPort;
  readonly notifier: NotifierPort;
  readonly settings: ServiceSettings;
  /** How rules' message patterns are tested: the function's has a time limit (boundedMatch), tests' is plainMatch. */
  readonly match: Matcher;
  /** The providers behind failed actions, read to tell why they failed. @default none: every failure is `unknown` */
  readonly providers?: ProviderPort;
}

/** What one delivery came to. */
export interface Result {
  readonly outcome: Outcome;
  readonly reason: string;
  readonly attempt?: number;
}

export function addSeconds(at: Date, seconds: number): Date {
  return new Date(at.getTime() + seconds * 1000);
}
