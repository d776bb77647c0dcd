/**
 * Every error this product raises on purpose derives from AutoRetryError, so catch
 * blocks can narrow with `instanceof` instead of matching message text.
 */
export class AutoRetryError extends Error {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input (an event, a queue message, a CLI flag) is not what we accept. Never retried. */
export class InvalidInputError extends AutoRetryError {}

/** Configuration (cdk.json `autoRetry`, a policy item) breaks a rule. */
export class ConfigurationError extends AutoRetryError {
  public constructor(
    public readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(problems.join('; '), options);
  }
}

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
 * The member account's role could not be assumed (missing, or its trust does not admit us). The
 * event is kept, not dropped: the handler lets it escape, so Lambda's retries and then the
 * failed-event queue hold it until an operator fixes the member stack.
 */
export class MemberRoleError extends AutoRetryError {}
