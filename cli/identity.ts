import { userInfo } from 'node:os';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

/** Who makes a change, for the audit fields: the AWS identity, or the OS user when it cannot be read. */
export interface Identity {
  readonly name: string;
  /** Set when the AWS identity could not be read: what to tell the operator. */
  readonly note?: string;
}

/**
 * The caller's AWS identity (STS GetCallerIdentity, asked once per run). Without one (no
 * credentials, no network) the OS user stands in, with a note saying so: an audit field should
 * not come from an environment variable anyone can set.
 */
export async function callerIdentity(): Promise<Identity> {
  const client = new STSClient({ maxAttempts: 1, requestHandler: { connectionTimeout: 2_000, requestTimeout: 3_000 } });
  try {
    const out = await client.send(new GetCallerIdentityCommand({}));
    if (out.Arn) return { name: out.Arn };
    return fallback('STS answered without an ARN');
  } catch (error) {
    return fallback(error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error));
  } finally {
    client.destroy();
  }
}

function fallback(reason: string): Identity {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no OS user either
  }
  return {
    name: `os:${user}`,
    note: `recorded the change as OS user ${user}: the AWS identity could not be read (${reason.slice(0, 120)})`,
  };
}
