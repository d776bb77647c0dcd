import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ProtocolNames, ProviderEmulator, ProviderError, page } from './provider-emulator';

/**
 * A local CloudFormation in the AWS Query protocol the v3 SDK uses (form-encoded POST, XML
 * answer): DescribeStacks, so the CLI's stack-output lookup runs for real in tests, and
 * DescribeStackEvents (newest first, in pages), so the retry function can read why a stack
 * operation failed. Tests put stacks in with `putStack` and events with `putStackEvents`; the
 * fault controls are ProviderEmulator's (throttling is `Throttling`, HTTP 400, as the service answers).
 */
type StackOutputValue = string | { readonly value: string; readonly description: string };

/** One stack event, as a scenario describes it. */
export interface StackEventSpec {
  /** @default the stack's own name: an event of the stack itself */
  readonly logicalResourceId?: string;
  /** @default AWS::CloudFormation::Stack */
  readonly resourceType?: string;
  readonly resourceStatus: string;
  readonly reason?: string;
  readonly physicalResourceId?: string;
  /** A hook's verdict on the resource (HookStatus HOOK_COMPLETE_FAILED and the like). */
  readonly hook?: {
    readonly type: string;
    readonly status: string;
    readonly reason?: string;
    readonly invocationPoint?: string;
    readonly failureMode?: string;
  };
  /** Epoch milliseconds. @default the emulator's now */
  readonly at?: number;
}

interface StoredEvent extends StackEventSpec {
  readonly eventId: string;
  readonly at: number;
  /** Order of arrival, for events of the same millisecond. */
  readonly seq: number;
}

const QUERY_NAMES: ProtocolNames = {
  throttling: 'Throttling',
  unsigned: 'MissingAuthenticationToken',
  badSignature: 'SignatureDoesNotMatch',
  unknownKey: 'InvalidClientTokenId',
  denied: 'AccessDenied',
};
const NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

export class CloudFormationEmulator extends ProviderEmulator {
  protected readonly names = QUERY_NAMES;
  /** Events per DescribeStackEvents page (reset to 100). */
  public eventsPerPage = 100;
  private readonly stacks = new Map<string, Record<string, StackOutputValue>>();
  private readonly events = new Map<string, StoredEvent[]>();
  private readonly stackIds = new Map<string, string>();
  private seq = 0;

  /** A deployed stack and its outputs: a value, or a value with its description. */
  public putStack(name: string, outputs: Record<string, StackOutputValue>): void {
    this.stacks.set(name, outputs);
  }

  /** Adds events to a stack's history (the stack exists from then on, without outputs if it had none). */
  public putStackEvents(stackName: string, events: readonly StackEventSpec[]): void {
    const stored = this.events.get(stackName) ?? [];
    for (const e of events) stored.push({ ...e, eventId: randomUUID(), at: e.at ?? this.now(), seq: this.seq++ });
    this.events.set(stackName, stored);
    if (!this.stacks.has(stackName)) this.stacks.set(stackName, {});
  }

  /** The stack's id, `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`. */
  public stackId(stackName: string): string {
    let id = this.stackIds.get(stackName);
    if (!id) {
      id = `arn:aws:cloudformation:${this.region}:${this.account}:stack/${stackName}/${randomUUID()}`;
      this.stackIds.set(stackName, id);
    }
    return id;
  }

  public override reset(): void {
    super.reset();
    this.eventsPerPage = 100;
    this.stacks.clear();
    this.events.clear();
    this.stackIds.clear();
  }

  protected parse(_req: IncomingMessage, body: string): { action: string; input: Record<string, unknown> } {
    const params = new URLSearchParams(body);
    return { action: params.get('Action') ?? '', input: Object.fromEntries(params) };
  }

  protected dispatch(action: string, input: Record<string, unknown>): unknown {
    switch (action) {
      case 'DescribeStacks':
        return this.describeStacks(input);
      case 'DescribeStackEvents':
        return this.describeStackEvents(input);
      default:
        throw new ProviderError('InvalidAction', `${action} is not emulated`);
    }
  }

  protected sendOutput(res: ServerResponse, action: string, output: unknown, requestId: string): void {
    this.xml(
      res,
      200,
      requestId,
      `<${action}Response xmlns="${NS}"><${action}Result>${String(output)}</${action}Result>` +
        `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
    );
  }

  protected sendError(res: ServerResponse, error: ProviderError, requestId: string): void {
    this.xml(
      res,
      error.status,
      requestId,
      `<ErrorResponse xmlns="${NS}"><Error><Type>${error.status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${error.type}</Code>` +
        `<Message>${esc(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    );
  }

  private requireStack(input: Record<string, unknown>): string {
    const name = typeof input.StackName === 'string' ? input.StackName : '';
    // A stack is named by its name or its id.
    const byId = [...this.stackIds.entries()].find(([, id]) => id === name)?.[0];
    const stackName = byId ?? name;
    if (!stackName || !this.stacks.has(stackName)) throw new ProviderError('ValidationError', `Stack with id ${name} does not exist`);
    return stackName;
  }

  private describeStacks(input: Record<string, unknown>): string {
    const stackName = this.requireStack(input);
    const members = Object.entries(this.stacks.get(stackName) ?? {})
      .map(([k, v]) => {
        const { value, description } = typeof v === 'string' ? { value: v, description: undefined } : v;
        const said = description === undefined ? '' : `<Description>${esc(description)}</Description>`;
        return `<member><OutputKey>${esc(k)}</OutputKey><OutputValue>${esc(value)}</OutputValue>${said}</member>`;
      })
      .join('');
    return (
      `<Stacks><member><StackName>${esc(stackName)}</StackName><StackId>${esc(this.stackId(stackName))}</StackId>` +
      `<CreationTime>2026-03-01T10:00:00.000Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs>` +
      `</member></Stacks>`
    );
  }

  /** The stack's events, newest first, one page of them and the token of the next. */
  private describeStackEvents(input: Record<string, unknown>): string {
    const stackName = this.requireStack(input);
    const newestFirst = [...(this.events.get(stackName) ?? [])].sort((a, b) => b.at - a.at || b.seq - a.seq);
    const { items, next } = page(
      newestFirst,
      this.eventsPerPage,
      input.NextToken,
      stackName,
      () => new ProviderError('ValidationError', 'Invalid NextToken'),
    );
    const stackId = this.stackId(stackName);
    const members = items.map((e) => this.eventXml(stackName, stackId, e)).join('');
    return `<StackEvents>${members}</StackEvents>${next ? `<NextToken>${next}</NextToken>` : ''}`;
  }

  private eventXml(stackName: string, stackId: string, e: StoredEvent): string {
    const logical = e.logicalResourceId ?? stackName;
    const field = (tag: string, value: string | undefined) => (value === undefined ? '' : `<${tag}>${esc(value)}</${tag}>`);
    return (
      `<member>${field('StackId', stackId)}${field('EventId', e.eventId)}${field('StackName', stackName)}` +
      `${field('LogicalResourceId', logical)}${field('PhysicalResourceId', e.physicalResourceId ?? (logical === stackName ? stackId : undefined))}` +
      `${field('ResourceType', e.resourceType ?? 'AWS::CloudFormation::Stack')}${field('Timestamp', new Date(e.at).toISOString())}` +
      `${field('ResourceStatus', e.resourceStatus)}${field('ResourceStatusReason', e.reason)}` +
      `${field('HookType', e.hook?.type)}${field('HookStatus', e.hook?.status)}${field('HookStatusReason', e.hook?.reason)}` +
      `${field('HookInvocationPoint', e.hook?.invocationPoint)}${field('HookFailureMode', e.hook?.failureMode)}</member>`
    );
  }

  private xml(res: ServerResponse, status: number, requestId: string, body: string): void {
    res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': requestId });
    res.end(body);
  }
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
