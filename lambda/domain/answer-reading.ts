import { FailureClass } from '../../policy/failure-class';
import type { Classification } from './provider-answers';

/**
 * How the classifier reads a provider's answer: defensively (an answer is data from outside; a
 * field may be missing, empty or of another type, and the classifier must still answer), and
 * the words that say a failure was throttled, timed out or refused. Evidence is one line an
 * operator can check, of bounded length.
 */

/** The longest evidence line: enough for the provider's own words, short enough for a log line and a notification. */
export const MAX_EVIDENCE = 300;

/** A non-empty string field, or undefined for anything else. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim().length > 0 ? value : undefined;
}

/** A list field, or an empty list for anything else. */
export function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** An object field, or an empty object for anything else. */
export function fields(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** A text cut to `max` characters, with `…` where it was cut. */
export function clip(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, Math.max(0, max - 1))}…` : value;
}

/** One line of evidence: whitespace (newlines in build output) folded, at most MAX_EVIDENCE characters. */
export function evidenceLine(line: string): string {
  return clip(line.replace(/\s+/g, ' ').trim(), MAX_EVIDENCE);
}

/** `code: message`, either part left out when missing; empty when both are. */
export function said(code: string | undefined, message: string | undefined): string {
  return [code, message].filter((part): part is string => part !== undefined).join(': ');
}

/**
 * Words of throttling: AWS's "Rate exceeded", ThrottlingException, TooManyRequestsException,
 * EC2's RequestLimitExceeded, S3's SlowDown, a registry's "toomanyrequests", HTTP 429.
 */
export const THROTTLING = /throttl|rate exceeded|too ?many ?requests|request ?limit ?exceeded|slow ?down|status code: 429/i;

/** Words of a timeout: "timed out", "Task timed out after 3.00 seconds", TIMEOUT. */
export const TIMEOUT = /timed? ?out|timeout/i;

/** Words of a refusal: AccessDenied, "is not authorized to perform", Forbidden, InvalidCredentials, HTTP 403. */
export const PERMISSION = /access ?denied|not authori[sz]ed|unauthori[sz]ed|forbidden|invalid ?credentials|status code: 403/i;

/**
 * Words of the provider's own failure: CloudFormation's "Internal Failure" and its handlers'
 * InternalFailure, ServiceInternalError and NetworkFailure, ServiceUnavailable, HTTP 5xx.
 */
export const INTERNAL = /internal ?(failure|error|server ?error)|service ?unavailable|network ?failure|status code: 5\d\d/i;

/** A classification that says nothing is known, and why. */
export function unknownClass(evidence: string): Classification {
  return { class: FailureClass.Unknown, evidence: evidenceLine(evidence) };
}

/** A classification of a provider that could not be asked: unknown, and `unread` (the class could be anything). */
export function unreadClass(evidence: string): Classification {
  return { class: FailureClass.Unknown, evidence: evidenceLine(evidence), unread: true };
}

/** A classification with its evidence made one bounded line. */
export function classified(failureClass: FailureClass, evidence: string): Classification {
  return { class: failureClass, evidence: evidenceLine(evidence) };
}

/**
 * The class the words of a message give, in the order throttled, timeout, permission; undefined
 * when they say none of these.
 */
export function classOfWords(message: string): FailureClass | undefined {
  if (THROTTLING.test(message)) return FailureClass.Throttled;
  if (TIMEOUT.test(message)) return FailureClass.Timeout;
  if (PERMISSION.test(message)) return FailureClass.Permission;
  return undefined;
}
