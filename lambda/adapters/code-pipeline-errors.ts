import {
  CodePipelineServiceException,
  ConcurrentPipelineExecutionsLimitExceededException,
  ConflictException,
  NotLatestPipelineExecutionException,
  PipelineExecutionNotFoundException,
  PipelineNotFoundException,
  StageNotFoundException,
  StageNotRetryableException,
  ValidationException,
} from '@aws-sdk/client-codepipeline';
import { type RetryCallOutcome, RetryCallResult } from '../ports';

/** The exception names the service uses for throttling (not all are modelled in the client). */
const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded']);

/** CodePipeline throttled the call, by exception name, HTTP status or the SDK's own mark. */
export function isThrottling(error: unknown): boolean {
  return (
    error instanceof CodePipelineServiceException &&
    (THROTTLING.has(error.name) || error.$metadata?.httpStatusCode === 429 || error.$retryable?.throttling === true)
  );
}

/** What a refused or unanswered RetryStageExecution means; anything unclear is ambiguous, never "did not happen". */
export function classifyRetryError(error: unknown): RetryCallOutcome {
  const refused = (result: RetryCallResult): RetryCallOutcome => {
    const e = error as Error;
    return { result, error: e.name, message: e.message };
  };
  if (error instanceof StageNotRetryableException) return refused(RetryCallResult.NotRetryable);
  if (error instanceof NotLatestPipelineExecutionException) return refused(RetryCallResult.NotLatest);
  if (error instanceof ConflictException || error instanceof ConcurrentPipelineExecutionsLimitExceededException) {
    return refused(RetryCallResult.Busy);
  }
  if (
    error instanceof PipelineNotFoundException ||
    error instanceof PipelineExecutionNotFoundException ||
    error instanceof StageNotFoundException ||
    error instanceof ValidationException
  ) {
    return refused(RetryCallResult.Permanent);
  }
  if (isThrottling(error)) return refused(RetryCallResult.Throttled);
  // Any other 4xx (access denied, an unmodelled validation error) is a refusal the call never got past.
  if (error instanceof CodePipelineServiceException && (error.$metadata?.httpStatusCode ?? 500) < 500) {
    return refused(RetryCallResult.Permanent);
  }
  // A 5xx, a timeout, a dropped connection: the call may have taken effect.
  const e = error instanceof Error ? error : new Error(String(error));
  return { result: RetryCallResult.Ambiguous, error: e.name, message: e.message };
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
