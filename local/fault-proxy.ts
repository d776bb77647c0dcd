import { randomUUID } from 'node:crypto';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import { LoopbackServer } from './loopback-server';

/**
 * What a call through the proxy meets:
 * - `apply-then-500`: the service takes the call, then the answer is an HTTP 500 (the SDK resends it);
 * - `apply-then-reset`: the service takes the call, then the connection is cut before any answer;
 * - `reset`: the connection is cut before the service sees the call;
 * - `throttle`: the service answers 400 with its throttling exception, the call never taken;
 * - `server-error`: the service answers 500, the call never taken.
 */
export type ProxyFault = 'apply-then-500' | 'apply-then-reset' | 'reset' | 'throttle' | 'server-error';

/** One call as the proxy sees it: the operation (from X-Amz-Target or the form's Action) and its JSON input. */
export interface ProxiedCall {
  readonly service: string;
  readonly operation: string;
  readonly input: Record<string, unknown>;
}

export interface FaultRule {
  readonly match: (call: ProxiedCall) => boolean;
  readonly fault: ProxyFault;
  /** How many matching calls meet the fault. @default 1 */
  readonly times?: number;
}

/** What happened to a call, for tests to count. */
export interface ProxyRecord extends ProxiedCall {
  readonly fault?: ProxyFault;
  readonly status: number;
}

/** Where calls for one service go, and how that service spells its faults. */
export interface Upstream {
  readonly name: string;
  readonly port: number;
  /** Does this request belong to the service? (X-Amz-Target prefix, or the form's Action.) */
  readonly accepts: (target: string, body: string) => boolean;
  /** The JSON error a throttled call gets. */
  readonly throttle: { readonly contentType: string; readonly type: string };
}

/** A decision the proxy's owner makes before a call goes on: e.g. kill the caller's process now. */
export type BeforeCall = (call: ProxiedCall, sequence: number) => 'drop' | undefined;
export type AfterApply = (call: ProxiedCall, sequence: number) => 'drop' | undefined;

const JSON_TARGET = /^([A-Za-z0-9]+)_\d{8}\.(\w+)$|^AmazonSQS\.(\w+)$/;

/**
 * An HTTP proxy in front of local AWS services that plays the faults of a real network and a
 * real service on our own calls: a write taken whose answer is lost (500, or a cut connection),
 * a call cut before it arrives, throttling, 5xx. Rules pick calls by operation and input; chaos
 * picks them at random from a seeded generator. Calls are routed to their service by the
 * X-Amz-Target header (JSON protocols) or the form's Action (Query protocols), so one proxy can
 * stand for every endpoint a process uses; its owner can also stop a call before it is sent or
 * after it took effect (to kill the caller's process at exactly that point).
 */
export class FaultProxy extends LoopbackServer {
  private readonly rules: { rule: FaultRule; left: number }[] = [];
  public readonly records: ProxyRecord[] = [];
  /** Random faults on matching calls: each meets one with probability `rate`. */
  public chaos: { rate: number; random: () => number; faults: readonly ProxyFault[]; match: (call: ProxiedCall) => boolean } | undefined;
  public beforeCall: BeforeCall | undefined;
  public afterApply: AfterApply | undefined;
  private sequence = 0;

  public constructor(private readonly upstreams: readonly Upstream[]) {
    super();
  }

  /** The next `times` calls that match meet `fault`. */
  public inject(rule: FaultRule): void {
    this.rules.push({ rule, left: rule.times ?? 1 });
  }

  public clear(): void {
    this.rules.length = 0;
    this.records.length = 0;
    this.chaos = undefined;
    this.beforeCall = undefined;
    this.afterApply = undefined;
  }

  /** Calls that met a fault after the service took them. */
  public lostReplies(): ProxyRecord[] {
    return this.records.filter((r) => r.fault === 'apply-then-500' || r.fault === 'apply-then-reset');
  }

  private pick(call: ProxiedCall): ProxyFault | undefined {
    const ruled = this.rules.find((r) => r.left > 0 && r.rule.match(call));
    if (ruled) {
      ruled.left -= 1;
      return ruled.rule.fault;
    }
    const chaos = this.chaos;
    if (chaos?.match(call) && chaos.random() < chaos.rate) return chaos.faults[Math.floor(chaos.random() * chaos.faults.length)];
    return undefined;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await LoopbackServer.readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const upstream = this.upstreams.find((u) => u.accepts(target, body));
    if (!upstream) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`no upstream for ${target || req.url}`);
      return;
    }
    const call = describeCall(upstream.name, target, body);
    const sequence = ++this.sequence;
    if (this.beforeCall?.(call, sequence) === 'drop') {
      req.socket.destroy();
      return;
    }
    const fault = this.pick(call);
    const record = (status: number) => this.records.push({ ...call, status, fault });
    switch (fault) {
      case 'reset':
        record(0);
        req.socket.destroy();
        return;
      case 'throttle': {
        record(400);
        const text = JSON.stringify({ __type: upstream.throttle.type, message: 'Rate exceeded' });
        res.writeHead(400, { 'content-type': upstream.throttle.contentType, 'x-amzn-requestid': randomUUID() }).end(text);
        return;
      }
      case 'server-error':
        record(500);
        return internalError(res, upstream);
      default:
        break;
    }
    let answer: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };
    try {
      answer = await forward(upstream.port, req, body);
    } catch {
      record(0);
      req.socket.destroy();
      return;
    }
    if (this.afterApply?.(call, sequence) === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault === 'apply-then-reset') {
      record(0);
      req.socket.destroy();
      return;
    }
    if (fault === 'apply-then-500') {
      record(500);
      return internalError(res, upstream);
    }
    record(answer.status);
    res.writeHead(answer.status, answer.headers).end(answer.body);
  }
}

/** DynamoDB behind the proxy (JSON 1.0, X-Amz-Target DynamoDB_20120810.*). */
export function dynamoUpstream(port: number): Upstream {
  return {
    name: 'dynamodb',
    port,
    accepts: (target) => target.startsWith('DynamoDB_'),
    throttle: { contentType: 'application/x-amz-json-1.0', type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException' },
  };
}

/** SQS behind the proxy (JSON 1.0, X-Amz-Target AmazonSQS.*). */
export function sqsUpstream(port: number): Upstream {
  return {
    name: 'sqs',
    port,
    accepts: (target) => target.startsWith('AmazonSQS.'),
    throttle: { contentType: 'application/x-amz-json-1.0', type: 'com.amazonaws.sqs#ThrottlingException' },
  };
}

/** CodePipeline behind the proxy (JSON 1.1, X-Amz-Target CodePipeline_20150709.*). */
export function codePipelineUpstream(port: number): Upstream {
  return {
    name: 'codepipeline',
    port,
    accepts: (target) => target.startsWith('CodePipeline_'),
    throttle: { contentType: 'application/x-amz-json-1.1', type: 'ThrottlingException' },
  };
}

/** A Query-protocol service (SNS, STS) behind the proxy, picked by the form's Action. */
export function queryUpstream(name: string, port: number, actions: readonly string[]): Upstream {
  return {
    name,
    port,
    accepts: (target, body) => target === '' && actions.includes(new URLSearchParams(body).get('Action') ?? ''),
    throttle: { contentType: 'text/xml', type: 'Throttling' },
  };
}

function describeCall(service: string, target: string, body: string): ProxiedCall {
  const m = JSON_TARGET.exec(target);
  if (m) {
    let input: Record<string, unknown> = {};
    try {
      input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      // A body that is not JSON goes on as it is; the service answers it.
    }
    return { service, operation: m[2] ?? m[3] ?? target, input };
  }
  const form = new URLSearchParams(body);
  return { service, operation: form.get('Action') ?? '?', input: Object.fromEntries(form) };
}

function internalError(res: ServerResponse, upstream: Upstream): void {
  const json = upstream.throttle.contentType.startsWith('application/x-amz-json');
  const text = json
    ? JSON.stringify({ __type: 'InternalServerError', message: 'We encountered an internal error. Please try again.' })
    : '<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal error</Message></Error></ErrorResponse>';
  res.writeHead(500, { 'content-type': upstream.throttle.contentType, 'x-amzn-requestid': randomUUID() }).end(text);
}

/** Sends the request on to the service on loopback and reads its whole answer. */
function forward(
  port: number,
  req: IncomingMessage,
  body: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: `127.0.0.1:${port}`, 'content-length': String(Buffer.byteLength(body)) };
    const out = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent: false }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...rest } = answer.headers;
        resolve({
          status: answer.statusCode ?? 502,
          headers: { ...rest, 'content-length': String(Buffer.concat(chunks).length) },
          body: Buffer.concat(chunks),
        });
      });
      answer.on('error', reject);
    });
    out.on('error', reject);
    out.end(body);
  });
}
