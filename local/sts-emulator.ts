import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer } from './loopback-server';

/**
 * A local STS answering GetCallerIdentity in the AWS Query protocol (form-encoded POST, XML
 * answer), so the CLI's audit identity is read for real in tests.
 */
export class StsEmulator extends LoopbackServer {
  /** The identity every caller has; tests set it. */
  public identity = { account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/Operator/alice', userId: 'AROAEXAMPLE:alice' };
  public calls = 0;

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = new URLSearchParams(await LoopbackServer.readBody(req));
    this.calls += 1;
    if (params.get('Action') !== 'GetCallerIdentity') {
      return this.xml(
        res,
        400,
        `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>not emulated</Message></Error></ErrorResponse>`,
      );
    }
    const { account, arn, userId } = this.identity;
    this.xml(
      res,
      200,
      `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
        `<Arn>${arn}</Arn><UserId>${userId}</UserId><Account>${account}</Account></GetCallerIdentityResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
    );
  }

  private xml(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
