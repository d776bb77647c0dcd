import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * The settings every SDK client of the functions shares, in one place. Credentials come from the
 * environment, where Lambda puts them (the bundles leave the default chain out). Endpoints come
 * from the standard AWS_ENDPOINT_URL_* variables, which is how the tests and the sandbox point the
 * same code at local services.
 */
export interface ClientOptions {
  /** Attempts in all, the first included; 1 means the SDK never resends. */
  readonly maxAttempts?: number;
  /** Milliseconds to connect and to wait for an answer, so a hung call cannot eat the function's timeout. */
  readonly connectionTimeout?: number;
  readonly requestTimeout?: number;
}

export function clientConfig(options: ClientOptions = {}) {
  return {
    credentials: fromEnv(),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    requestHandler: { connectionTimeout: options.connectionTimeout ?? 3_000, requestTimeout: options.requestTimeout ?? 10_000 },
  };
}
