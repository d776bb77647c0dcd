import { FailureClass } from '../../policy/failure-class';
import { classified, fields, INTERNAL, list, PERMISSION, THROTTLING, TIMEOUT, text, unknownClass } from './answer-reading';
import type { Classification, StackEventAnswer } from './provider-answers';

/**
 * Why a CloudFormation deployment failed, from the stack's events (DescribeStackEvents, for the
 * action's run window). The root cause is the earliest failure that is not a consequence of
 * another: a resource whose ResourceStatus ends in FAILED, or a hook that failed in FAIL mode
 * (HOOK_COMPLETE_FAILED, HOOK_FAILED). "Resource update cancelled" and the like, and the stack's
 * own "The following resource(s) failed to …", only follow from it and are skipped. Its reason
 * gives the class, the first that applies:
 *
 * - "Rate exceeded", Throttling, TooManyRequests, HTTP 429 → `throttled`;
 * - "Internal Failure", InternalFailure, ServiceInternalError, NetworkFailure, ServiceUnavailable,
 *   HTTP 5xx → `infrastructure`;
 * - AccessDenied, "is not authorized to perform", InvalidCredentials, HTTP 403 → `permission`;
 * - "timed out", a timeout (a custom resource or a signal that never came) → `timeout`;
 * - a hook that completed and judged the template failed (HOOK_COMPLETE_FAILED) → `configuration`;
 *   one that could not run (HOOK_FAILED) says nothing about the template → `unknown`;
 * - validation errors ("Template format error", ValidationError, "Properties validation failed",
 *   "Parameter …", "Encountered unsupported property", "Invalid …", InvalidRequest, NotUpdatable),
 *   "already exists" (AlreadyExists), "does not exist", NotFound → `configuration`;
 * - anything else, or no failure at all → `unknown`.
 */

const FAILED_HOOK_STATUSES: readonly string[] = ['HOOK_COMPLETE_FAILED', 'HOOK_FAILED'];
const CONSEQUENCE = /\bcancell?ed\b|the following resource\(s\) failed to/i;
const CONFIGURATION =
  /template format error|validation ?error|validation fail|property validation|parameter|unsupported property|invalid|already ?exists|does not exist|not ?found|not ?updatable|no export named/i;

interface StackFailure {
  readonly resource: string;
  readonly status: string;
  readonly reason: string;
  readonly hook: string | undefined;
}

/** Events oldest first: by Timestamp when every event has one, else the API's order (newest first) reversed. */
function oldestFirst(events: readonly unknown[]): Readonly<Record<string, unknown>>[] {
  const read = events.map(fields);
  const at = (e: Readonly<Record<string, unknown>>) => (e.Timestamp instanceof Date ? e.Timestamp.getTime() : Number.NaN);
  if (read.length > 0 && read.every((e) => Number.isFinite(at(e)))) {
    // Equal times keep the API's order reversed: the later an event in the answer, the older it is.
    return read
      .map((e, i) => ({ e, i }))
      .sort((x, y) => at(x.e) - at(y.e) || y.i - x.i)
      .map(({ e }) => e);
  }
  return [...read].reverse();
}

function failureOf(e: Readonly<Record<string, unknown>>): StackFailure | undefined {
  const logical = text(e.LogicalResourceId) ?? 'a resource';
  const type = text(e.ResourceType);
  const resource = type ? `${logical} (${type})` : logical;
  const hook = text(e.HookStatus);
  if (hook !== undefined && FAILED_HOOK_STATUSES.includes(hook) && text(e.HookFailureMode) !== 'WARN') {
    return { resource, status: hook, reason: text(e.HookStatusReason) ?? text(e.ResourceStatusReason) ?? '', hook };
  }
  const status = text(e.ResourceStatus);
  if (status === undefined || !status.endsWith('FAILED')) return undefined;
  return { resource, status, reason: text(e.ResourceStatusReason) ?? '', hook: undefined };
}

function classOfFailure(failure: StackFailure): FailureClass {
  const { reason, hook } = failure;
  if (THROTTLING.test(reason)) return FailureClass.Throttled;
  if (INTERNAL.test(reason)) return FailureClass.Infrastructure;
  if (PERMISSION.test(reason)) return FailureClass.Permission;
  if (TIMEOUT.test(reason)) return FailureClass.Timeout;
  if (hook === 'HOOK_COMPLETE_FAILED') return FailureClass.Configuration;
  if (hook === 'HOOK_FAILED') return FailureClass.Unknown;
  return CONFIGURATION.test(reason) ? FailureClass.Configuration : FailureClass.Unknown;
}

/** Why the stack's deployment failed (see the rules above); never throws, whatever the events hold. */
export function classifyStackEvents(stackName: string, events: readonly StackEventAnswer[]): Classification {
  const stack = `CloudFormation stack ${text(stackName) ?? '(no name)'}`;
  const failures = oldestFirst(list(events))
    .map(failureOf)
    .filter((f): f is StackFailure => f !== undefined);
  const root = failures.find((f) => !CONSEQUENCE.test(f.reason));
  if (!root) {
    return unknownClass(
      failures.length > 0 ? `${stack}: only cancelled or dependent failures, no root cause in the events` : `${stack}: no failed event`,
    );
  }
  const evidence = `${stack}: ${root.resource} ${root.status}${root.reason ? `: ${root.reason}` : ''}`;
  return classified(classOfFailure(root), evidence);
}
