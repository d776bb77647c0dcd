import { type Location, memberRoleName, partitionOf, SERVICE_NAME } from '../../contract';
import { MemberRoleError, RoleThrottledError } from '../domain/errors';

/** Credentials as SDK clients take them (the shape of the SDK's AwsCredentialIdentity). */
export interface AssumedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  readonly expiration?: Date | undefined;
}

/** AssumeRole: the role's credentials, or undefined when STS answered without any. */
export type AssumeRole = (roleArn: string, sessionName: string) => Promise<AssumedCredentials | undefined>;

/** Assumed credentials are renewed this long before they expire, so no call goes out with credentials about to lapse. */
export const RENEW_BEFORE_SECONDS = 300;

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);

/**
 * The member role of each account and region, assumed once and kept until shortly before it
 * expires. Concurrent events for one member share one AssumeRole call.
 */
export class MemberRoles {
  private readonly cache = new Map<string, Promise<AssumedCredentials>>();

  private sts: Promise<AssumeRole> | undefined;

  public constructor(
    /** Makes the AssumeRole call, on first use (the STS client is loaded then). */
    private readonly loadSts: () => Promise<AssumeRole>,
    /** The member role's base name; the region is appended (see memberRoleName). */
    private readonly roleBase: string,
    private readonly now: () => number = Date.now,
  ) {}

  public roleArn(at: Location): string {
    return `arn:${partitionOf(at.region)}:iam::${at.account}:role/${memberRoleName(this.roleBase, at.region)}`;
  }

  /** Credentials for the SDK client of one member; each call returns fresh enough ones. */
  public provider(at: Location): () => Promise<AssumedCredentials> {
    return () => this.credentials(at);
  }

  public credentials(at: Location): Promise<AssumedCredentials> {
    const key = `${at.account}/${at.region}`;
    const cached = this.cache.get(key);
    if (cached) {
      return cached.then((c) => (this.fresh(c) ? c : this.assume(key, at)));
    }
    return this.assume(key, at);
  }

  private fresh(c: AssumedCredentials): boolean {
    return c.expiration === undefined || c.expiration.getTime() - this.now() > RENEW_BEFORE_SECONDS * 1000;
  }

  private assume(key: string, at: Location): Promise<AssumedCredentials> {
    const roleArn = this.roleArn(at);
    this.sts ??= this.loadSts();
    const pending = this.sts
      .then((assumeRole) => assumeRole(roleArn, SERVICE_NAME))
      .then(
        (credentials) => {
          if (!credentials) throw new MemberRoleError(`AssumeRole of ${roleArn} returned no credentials`);
          return credentials;
        },
        (error: unknown) => {
          const e = error instanceof Error ? error : new Error(String(error));
          if (THROTTLING.has(e.name)) throw new RoleThrottledError(`STS throttled AssumeRole of ${roleArn}`, { cause: error });
          throw new MemberRoleError(
            `cannot assume the member role ${roleArn} for account ${at.account} in ${at.region} (${e.name}: ${e.message}); ` +
              `is the member stack deployed there?`,
            { cause: error },
          );
        },
      );
    this.cache.set(key, pending);
    // A failure is not remembered: the next event asks again.
    pending.catch(() => {
      if (this.cache.get(key) === pending) this.cache.delete(key);
    });
    return pending;
  }
}
