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
