import { MemberRoleError, ProviderRefusedError, ThrottledError, TransientFaultError } from '../domain/errors';

/** What an SDK client's service exception carries besides its name: how the service answered. */
export interface ServiceAnswer extends Error {
  readonly $metadata?: { readonly httpStatusCode?: number | undefined };
  readonly $retryable?: { readonly throttling?: boolean | undefined } | undefined;
}

/** The exception names the providers use for throttling: CloudFormation's Query protocol says `Throttling`. */
const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded']);

/**
 * A provider read's error as ProviderPort throws it, told by exception type and HTTP status, never
 * by message: throttling is ThrottledError; any other 4xx answer of the service (`isAnswer`: its
 * client's ServiceException) a ProviderRefusedError; a 5xx, a timeout or a dropped connection a
 * TransientFaultError. A member role that could not be assumed stays a MemberRoleError.
 */
export function readError(what: string, error: unknown, isAnswer: (e: unknown) => e is ServiceAnswer): Error {
  if (error instanceof MemberRoleError || error instanceof TransientFaultError) return error;
  const e = error instanceof Error ? error : new Error(String(error));
  if (isAnswer(e)) {
    if (THROTTLING.has(e.name) || e.$metadata?.httpStatusCode === 429 || e.$retryable?.throttling === true) {
      return new ThrottledError(`${what} was throttled: ${describe(e)}`, { cause: error });
    }
    if ((e.$metadata?.httpStatusCode ?? 500) < 500)
      return new ProviderRefusedError(`${what} was refused: ${describe(e)}`, { cause: error });
  }
  return new TransientFaultError(`${what} failed: ${describe(e)}`, { cause: error });
}

function describe(error: Error): string {
  return `${error.name}: ${error.message}`;
}
