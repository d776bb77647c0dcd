import { AutoRetryError } from '../../policy/errors';

/**
 * A dependency (DynamoDB, SQS, CodePipeline throttling or 5xx) failed in a way that may pass.
 * The handler lets it escape so Lambda's own retry and the on-failure destination keep the event.
 */
export class TransientFaultError extends AutoRetryError {}

/**
 * CodePipeline answered ThrottlingException, or our own pacing held the call back. Not a fault
 * to spend Lambda's retries on: the work waits in the delay queue and comes back.
 */
export class ThrottledError extends TransientFaultError {}

/**
 * STS throttled AssumeRole of a member account's role: throttled like any other call (the work
 * waits), but the service the call was meant for was never asked, and evidence must say so.
 */
export class RoleThrottledError extends ThrottledError {}

/**
 * The member account's role could not be assumed (missing, or its trust does not admit us). The
 * event is kept, not dropped: the handler lets it escape, so Lambda's retries and then the
 * failed-event queue hold it until an operator fixes the member stack.
 */
export class MemberRoleError extends AutoRetryError {}

/**
 * A provider behind a failed action (CodeBuild, CodeDeploy, CloudFormation) refused a read for
 * good: access denied, an input it does not take. Asking again will not help. It is a
 * TransientFaultError all the same, so that a caller that falls back when a read fails falls back
 * on this too; one that waits for faults to pass tells it apart with instanceof.
 */
export class ProviderRefusedError extends TransientFaultError {}
