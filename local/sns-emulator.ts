import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer } from './loopback-server';

/** A local SNS answering Publish in the AWS Query protocol (form-encoded POST, XML answer). */
export class SnsEmulator extends LoopbackServer {
  public readonly published: { topicArn: string; subject: string | null; message: string; structure: string | null }[] = [];

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = new URLSearchParams(await LoopbackServer.readBody(req));
    if (params.get('Action') !== 'Publish') return this.xml(res, 400, error('InvalidAction', `${params.get('Action')} is not emulated`));
    const topicArn = params.get('TopicArn');
    const message = params.get('Message');
    if (!topicArn || !message) return this.xml(res, 400, error('InvalidParameter', 'TopicArn and Message are required'));
    const structure = params.get('MessageStructure');
    if (structure === 'json') {
      try {
        if (typeof (JSON.parse(message) as { default?: unknown }).default !== 'string') throw new Error('no default');
      } catch {
        return this.xml(res, 400, error('InvalidParameter', 'Message Structure - No default entry in JSON message body'));
      }
    }
    this.published.push({ topicArn, subject: params.get('Subject'), message, structure });
    this.xml(
      res,
      200,
      `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
    );
  }

  private xml(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function error(code: string, message: string): string {
  return `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}
