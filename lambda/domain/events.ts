import { ACCOUNT_PATTERN, EVENT_SOURCE, REGION_PATTERN, STAGE_DETAIL_TYPE } from '../../contract';
import { InvalidInputError } from '../../policy/errors';
import { NAME_PATTERN } from '../../policy/policy';
import type { ReportedFailure, StageFailure } from './types';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(obj: Json, key: string, where: string, max = 256): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw new InvalidInputError(`${where}.${key} must be a non-empty string of at most ${max} characters`);
  }
  return v;
}

function region(obj: Json, key: string, where: string): string {
  const v = text(obj, key, where, 32);
  if (!REGION_PATTERN.test(v)) throw new InvalidInputError(`${where}.${key} is not an AWS region name`);
  return v;
}

function account(obj: Json, key: string, where: string): string {
  const v = text(obj, key, where, 32);
  if (!ACCOUNT_PATTERN.test(v)) throw new InvalidInputError(`${where}.${key} is not a 12-digit AWS account id`);
  return v;
}

function name(obj: Json, key: string, where: string): string {
  const v = text(obj, key, where, 100);
  if (!NAME_PATTERN.test(v)) throw new InvalidInputError(`${where}.${key} is not a valid CodePipeline name`);
  return v;
}

function timestamp(obj: Json, key: string, where: string): Date {
  const v = text(obj, key, where, 64);
  const at = new Date(v);
  if (Number.isNaN(at.getTime())) throw new InvalidInputError(`${where}.${key} is not a timestamp`);
  return at;
}

function positiveInteger(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new InvalidInputError(`${what} must be a positive whole number`);
  }
  return v;
}

/**
 * The event's `pipeline-execution-attempt`, read tolerantly: a number such as 1.0, a numeric
 * string, or 0 is taken as it is; an absent or null field is undefined (the service then names
 * the failure by its failed actions). Only a value that cannot be a count is malformed.
 */
function attemptOf(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\s*\d+(\.0+)?\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidInputError(`${what} must be a whole number of attempts, got ${JSON.stringify(v)?.slice(0, 40)}`);
  }
  return n;
}

/** Is this an EventBridge event at all (as opposed to an SQS batch or garbage)? */
export function looksLikeEventBridgeEvent(input: unknown): boolean {
  return isObject(input) && 'detail-type' in input;
}

/** A stage event the handler acts on: a failure to consider, or a success that may be a recovery. */
export interface StageEvent {
  readonly state: 'FAILED' | 'SUCCEEDED';
  readonly failure: ReportedFailure;
}

/** Validates a stage FAILED or SUCCEEDED event (the stack routes both to the function). */
export function parseStageEvent(input: unknown): StageEvent {
  const state = (input as { detail?: { state?: unknown } } | null)?.detail?.state;
  if (state === 'SUCCEEDED') {
    const failed = structuredClone(input) as { detail: { state: string } };
    failed.detail.state = 'FAILED';
    return { state: 'SUCCEEDED', failure: parseStageFailedEvent(failed) };
  }
  if (state !== 'FAILED' && isObject(input) && isObject(input.detail)) {
    throw new InvalidInputError('event.detail.state must be FAILED or SUCCEEDED');
  }
  return { state: 'FAILED', failure: parseStageFailedEvent(input) };
}

/**
 * Validates a "CodePipeline Stage Execution State Change" FAILED event. Throws InvalidInputError
 * naming the first field that is wrong; the caller logs it and never retries.
 */
export function parseStageFailedEvent(input: unknown): ReportedFailure {
  if (!isObject(input)) throw new InvalidInputError('event must be a JSON object');
  if (input.source !== EVENT_SOURCE) throw new InvalidInputError(`event.source must be ${EVENT_SOURCE}`);
  if (input['detail-type'] !== STAGE_DETAIL_TYPE) {
    throw new InvalidInputError(`event.detail-type must be "${STAGE_DETAIL_TYPE}"`);
  }
  const detail = input.detail;
  if (!isObject(detail)) throw new InvalidInputError('event.detail must be an object');
  if (detail.state !== 'FAILED') throw new InvalidInputError('event.detail.state must be FAILED');

  const version = detail.version;
  if (version !== undefined && (typeof version !== 'number' || !Number.isFinite(version) || version < 0)) {
    throw new InvalidInputError('event.detail.version must be a number');
  }
  const attempt = detail['pipeline-execution-attempt'];
  return {
    eventId: text(input, 'id', 'event'),
    account: account(input, 'account', 'event'),
    region: region(input, 'region', 'event'),
    failedAt: timestamp(input, 'time', 'event'),
    pipeline: name(detail, 'pipeline', 'event.detail'),
    stage: name(detail, 'stage', 'event.detail'),
    executionId: text(detail, 'execution-id', 'event.detail', 128),
    occurrence: attemptOf(attempt, 'event.detail.pipeline-execution-attempt'),
    pipelineVersion: version,
  };
}

/**
 * What the delay queue carries: a claimed retry waiting for its cooldown (kind `claim`), or a
 * failure whose handling waits (kind `event`: throttled before it was claimed, or waiting for the
 * stage's own retry). Messages from before `kind` existed are claims.
 *
 * The older shapes (no `kind`; a claim without `token`, as 0.2.0 and before wrote them) are kept on
 * purpose: a message written by the version before an upgrade can still be in flight after it.
 * The delay queue keeps a message 4 days (lib/defaults.ts, delayQueueProps), and a wait that is
 * not due yet is chained through it as the same message, for up to the longest cooldown, spread,
 * plus an hour; rejecting them would send such claims to the DLQ. They can go only in a release
 * whose upgrade path never starts from a version that wrote them.
 */
export type DelayedRetryMessage =
  | {
      readonly v: 1;
      readonly kind?: 'claim';
      readonly failure: StageFailure;
      /** When the retry is due. */
      readonly dueAt: Date;
      /** The claim's token when the message was sent: the claim is then taken in one write. */
      readonly token?: string;
    }
  | {
      readonly v: 1;
      readonly kind: 'event';
      readonly failure: ReportedFailure;
      readonly dueAt: Date;
      /** How often handling this failure was put off for throttling: the next wait grows with it. */
      readonly deferrals?: number;
      /** The wait for the stage's own onFailure retry is over: the policy applies now. */
      readonly nativeWaitOver?: boolean;
      /** The failed actions when the wait began: if they changed, the failure has moved on. */
      readonly fingerprint?: string;
      /** How often the live state was found lagging behind this failure: it is read again, a bounded number of times. */
      readonly staleChecks?: number;
      /** How often this failure waited for earlier claims to give their slots back. */
      readonly slotWaits?: number;
    };

export function serializeDelayedRetry(message: DelayedRetryMessage): string {
  return JSON.stringify({
    ...message,
    dueAt: message.dueAt.toISOString(),
    failure: { ...message.failure, failedAt: message.failure.failedAt.toISOString() },
  });
}

export function parseDelayedRetry(body: string): DelayedRetryMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (cause) {
    throw new InvalidInputError('delay-queue message body is not JSON', { cause });
  }
  if (!isObject(raw) || raw.v !== 1) throw new InvalidInputError('delay-queue message must be an object with v: 1');
  const f = raw.failure;
  if (!isObject(f)) throw new InvalidInputError('delay-queue message.failure must be an object');
  const version = f.pipelineVersion;
  if (version !== undefined && typeof version !== 'number') {
    throw new InvalidInputError('delay-queue message.failure.pipelineVersion must be a number');
  }
  const failure = {
    eventId: text(f, 'eventId', 'message.failure'),
    account: account(f, 'account', 'message.failure'),
    region: region(f, 'region', 'message.failure'),
    pipeline: name(f, 'pipeline', 'message.failure'),
    stage: name(f, 'stage', 'message.failure'),
    executionId: text(f, 'executionId', 'message.failure', 128),
    pipelineVersion: version,
    failedAt: timestamp(f, 'failedAt', 'message.failure'),
  };
  const dueAt = timestamp(raw, 'dueAt', 'message');
  if (raw.kind === 'event') {
    const count = (field: 'deferrals' | 'staleChecks' | 'slotWaits') =>
      raw[field] === undefined ? {} : { [field]: positiveInteger(raw[field], `message.${field}`) };
    const fingerprint = raw.fingerprint === undefined ? undefined : text(raw, 'fingerprint', 'message', 4096);
    return {
      v: 1,
      kind: 'event',
      dueAt,
      failure: { ...failure, occurrence: attemptOf(f.occurrence, 'message.failure.occurrence') },
      ...count('deferrals'),
      ...count('staleChecks'),
      ...count('slotWaits'),
      ...(raw.nativeWaitOver === true ? { nativeWaitOver: true } : {}),
      ...(fingerprint !== undefined ? { fingerprint } : {}),
    };
  }
  if (raw.kind !== undefined && raw.kind !== 'claim') throw new InvalidInputError('delay-queue message.kind must be claim or event');
  const occurrence = attemptOf(f.occurrence, 'message.failure.occurrence');
  if (occurrence === undefined) throw new InvalidInputError('delay-queue message.failure.occurrence is required for a claim');
  const token = raw.token === undefined ? undefined : text(raw, 'token', 'message', 64);
  return { v: 1, kind: 'claim', dueAt, failure: { ...failure, occurrence }, ...(token ? { token } : {}) };
}
