import { AssumeRoleCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import type { AssumeRole } from './member-roles';

/**
 * AssumeRole through the STS client. A module of its own, loaded on the first member account's
 * event: a single-account deployment's function never loads the STS client (the bundle keeps it
 * in a chunk of its own).
 */
export function stsAssumeRole(config: STSClientConfig): AssumeRole {
  const client = new STSClient(config);
  return async (roleArn, sessionName) => {
    const out = await client.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName }));
    const c = out.Credentials;
    return c?.AccessKeyId && c.SecretAccessKey
      ? { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration }
      : undefined;
  };
}
