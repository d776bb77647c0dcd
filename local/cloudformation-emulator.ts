import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer } from './loopback-server';

/**
 * A local CloudFormation answering DescribeStacks in the AWS Query protocol the v3 SDK uses
 * (form-encoded POST, XML answer), so the CLI's stack-output lookup runs for real in tests.
 */
type StackOutputValue = string | { readonly value: string; readonly description: string };

export class CloudFormationEmulator extends LoopbackServer {
  private readonly stacks = new Map<string, Record<string, StackOutputValue>>();
  public readonly calls: { action: string; stackName: string | null }[] = [];

  /** A deployed stack and its outputs: a value, or a value with its description. */
  public putStack(name: string, outputs: Record<string, StackOutputValue>): void {
    this.stacks.set(name, outputs);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = new URLSearchParams(await LoopbackServer.readBody(req));
    const action = params.get('Action') ?? '';
    const stackName = params.get('StackName');
    this.calls.push({ action, stackName });
    if (action !== 'DescribeStacks') return this.error(res, 'InvalidAction', `${action} is not emulated`);
    const outputs = stackName ? this.stacks.get(stackName) : undefined;
    if (!stackName || !outputs) return this.error(res, 'ValidationError', `Stack with id ${stackName ?? ''} does not exist`);
    const members = Object.entries(outputs)
      .map(([k, v]) => {
        const { value, description } = typeof v === 'string' ? { value: v, description: undefined } : v;
        const said = description === undefined ? '' : `<Description>${esc(description)}</Description>`;
        return `<member><OutputKey>${esc(k)}</OutputKey><OutputValue>${esc(value)}</OutputValue>${said}</member>`;
      })
      .join('');
    this.xml(
      res,
      200,
      `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
        `<StackName>${esc(stackName)}</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/${esc(stackName)}/1</StackId>` +
        `<CreationTime>2026-03-01T10:00:00.000Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs>` +
        `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
    );
  }

  private error(res: ServerResponse, code: string, message: string): void {
    this.xml(
      res,
      400,
      `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>${code}</Code>` +
        `<Message>${esc(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );
  }

  private xml(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
