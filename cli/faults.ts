import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { AutoRetryError, InvalidInputError } from '../policy/errors';

/**
 * What the CLI says when a service it calls fails: one line naming the service and where it was
 * looked for, so an operator knows whether to fix a name, an endpoint or the network. Faults
 * exit 1; bad input exits 2.
 */

/** Node's codes for a connection that never answered. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A service could not be reached, or answered that what we asked for is not there. */
export class ServiceFaultError extends AutoRetryError {}

/** No table was given and none could be found from the stack. Bad input: exit 2. */
export class NoTableError extends InvalidInputError {}

/** Whether a failure means there is no table to read (none named, none found, none there, none reachable). */
export function isTableUnavailable(error: unknown): boolean {
  return (
    error instanceof NoTableError ||
    error instanceof ServiceFaultError ||
    error instanceof ResourceNotFoundException ||
    unreachableCode(error) !== undefined
  );
}

/** The error's system code when it is a connection that failed (directly, or as the cause of an SDK error). */
export function unreachableCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && UNREACHABLE.has(code)) return code;
  }
  return undefined;
}

/**
 * Where a client sends its requests: the endpoint the environment sets for the service
 * (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, as the SDK reads them), or the
 * service's regional endpoint.
 */
export async function endpointOf(
  client: { config: { region: () => Promise<string> } },
  service: { readonly id: string; readonly host: string },
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const configured = env[`AWS_ENDPOINT_URL_${service.id}`] ?? env.AWS_ENDPOINT_URL;
  if (configured) return configured;
  const region = await client.config.region().catch(() => undefined);
  return `https://${service.host}.${region ?? '<no region>'}.amazonaws.com`;
}

export const Service = {
  DynamoDB: { id: 'DYNAMODB', host: 'dynamodb' },
  CloudFormation: { id: 'CLOUDFORMATION', host: 'cloudformation' },
} as const;

/** The one line for a DynamoDB call that failed, or undefined when the failure is not a fault we can name. */
export function dynamoFault(error: unknown, where: { table: string | undefined; endpoint: string }): ServiceFaultError | undefined {
  const code = unreachableCode(error);
  if (code) {
    return new ServiceFaultError(
      `cannot reach DynamoDB at ${where.endpoint} (${code}); check the network, AWS_REGION or AWS_ENDPOINT_URL_DYNAMODB`,
      { cause: error },
    );
  }
  if (error instanceof ResourceNotFoundException) {
    return new ServiceFaultError(
      `table ${where.table ?? '(unknown)'} does not exist at ${where.endpoint}; pass --table <name>, set TABLE_NAME, or deploy the stack`,
      { cause: error },
    );
  }
  return undefined;
}
