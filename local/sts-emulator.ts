import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer } from './loopback-server';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@-]{1,64}$/;

/**
 * A local STS in the AWS Query protocol (form-encoded POST, XML answer): GetCallerIdentity, so the
 * CLI's audit identity is read for real, and AssumeRole, so the retry function's cross-account
 * path runs for real. Roles exist only once a test creates them; the keys AssumeRole hands out
 * are remembered with their account, which the CodePipeline emulators ask (`accountOf`).
 */
export class StsEmulator extends LoopbackServer {
  /** The identity every caller has; tests set it. */
  public identity = { account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/Operator/alice', userId: 'AROAEXAMPLE:alice' };
  public calls = 0;
  /** Roles that can be assumed (ARN). */
  public readonly roles = new Set<string>();
  /** Every AssumeRole asked for, in order. */
  public readonly assumed: string[] = [];
  /** How long issued credentials last. */
  public durationSeconds = 3600;
  /** While true, every AssumeRole is answered with Throttling (HTTP 400, "Rate exceeded"), as STS does when its rate is spent. */
  public throttling = false;
  /** The AssumeRole calls answered with Throttling. */
  public throttled = 0;
  public now: () => number = () => Date.now();
  /** The caller's own keys: the access key the function's environment holds, and its account. */
  private readonly keys = new Map<string, string>();

  /** Credentials the emulator accepts as `account`'s own (the central function's environment). */
  public trustKey(accessKeyId: string, account: string): void {
    this.keys.set(accessKeyId, account);
  }

  /** The account whose credentials these are, if the emulator issued or was told of them. */
  public readonly accountOf = (accessKeyId: string): string | undefined => this.keys.get(accessKeyId);

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = new URLSearchParams(await LoopbackServer.readBody(req));
    this.calls += 1;
    const action = params.get('Action');
    if (action === 'AssumeRole') return this.assumeRole(params.get('RoleArn') ?? '', res);
    if (action !== 'GetCallerIdentity') return this.error(res, 400, 'InvalidAction', 'not emulated');
    const { account, arn, userId } = this.identity;
    this.xml(
      res,
      200,
      `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
        `<Arn>${arn}</Arn><UserId>${userId}</UserId><Account>${account}</Account></GetCallerIdentityResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
    );
  }

  private assumeRole(roleArn: string, res: ServerResponse): void {
    if (this.throttling) {
      this.throttled += 1;
      this.error(res, 400, 'Throttling', 'Rate exceeded');
      return;
    }
    this.assumed.push(roleArn);
    const account = ROLE_ARN.exec(roleArn)?.[1];
    if (!account) {
      this.error(res, 400, 'ValidationError', `${roleArn} is not a role ARN`);
      return;
    }
    if (!this.roles.has(roleArn)) {
      this.error(res, 403, 'AccessDenied', `User is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      return;
    }
    const key = `ASIA${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}`;
    this.keys.set(key, account);
    const expiration = new Date(this.now() + this.durationSeconds * 1000).toISOString();
    this.xml(
      res,
      200,
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
        `<Credentials><AccessKeyId>${key}</AccessKeyId><SecretAccessKey>secret-${key}</SecretAccessKey>` +
        `<SessionToken>token-${key}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
        `<AssumedRoleUser><Arn>${roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/session</Arn>` +
        `<AssumedRoleId>AROA${account}:session</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  }

  private error(res: ServerResponse, status: number, code: string, message: string): void {
    this.xml(
      res,
      status,
      `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>` +
        `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );
  }

  private xml(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
