import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer } from './loopback-server';

/**
 * What the emulators of the providers behind pipeline actions (CodeBuild, CodeDeploy,
 * CloudFormation) share: the scenario's faults, each call recorded, and the caller checked
 * against the account and region the endpoint serves. Subclasses speak one wire protocol
 * (./JsonProviderEmulator here, the Query protocol in ./cloudformation-emulator.ts) and serve its
 * operations; reads only, so a lost answer is just a dropped connection.
 */

/** A fault the next calls of one action meet (named as the CodePipeline emulator's Fault names them). */
export type ProviderFault =
  /** The service's throttling answer (ThrottlingException, or CloudFormation's Throttling), HTTP 400. */
  | { readonly kind: 'throttle' }
  /** An HTTP 500 InternalFailure. */
  | { readonly kind: 'server-error' }
  /** The connection is cut before any answer. */
  | { readonly kind: 'reset' }
  /** A refusal of the caller's choosing, such as AccessDeniedException. */
  | { readonly kind: 'exception'; readonly name: string; readonly message?: string; readonly status?: number };

/** One request the emulator received. */
export interface ProviderCall {
  readonly action: string;
  readonly input: Readonly<Record<string, unknown>>;
  /** The answer's HTTP status; 0 when the connection was dropped. */
  readonly status: number;
  /** The exception answered, or ConnectionReset for a dropped connection. */
  readonly error?: string;
  /** Epoch milliseconds on the emulator's clock. */
  readonly at: number;
}

/** The one account and region an endpoint serves, and who the callers' keys belong to (the local STS knows). */
export interface Tenant {
  readonly account: string;
  readonly region: string;
  readonly accountOf: (accessKeyId: string) => string | undefined;
}

/** A refusal the service answers with: exception name, message and HTTP status. */
export class ProviderError extends Error {
  public constructor(
    public readonly type: string,
    message: string,
    public readonly status = 400,
  ) {
    super(message);
  }
}

/** The exception names a protocol uses for throttling and for callers it does not admit. */
export interface ProtocolNames {
  readonly throttling: string;
  readonly unsigned: string;
  readonly badSignature: string;
  readonly unknownKey: string;
  readonly denied: string;
}

export abstract class ProviderEmulator extends LoopbackServer {
  /** Every request, in order of arrival. */
  public readonly calls: ProviderCall[] = [];
  /** Epoch milliseconds; tests may replace it to line up with an injected clock. */
  public now: () => number = () => Date.now();
  public account = '123456789012';
  public region = 'us-east-1';
  /**
   * The account and region this endpoint serves: a request signed for another region, or with
   * another account's credentials, is refused. Unset (the default), every caller is served.
   */
  public tenant: Tenant | undefined;
  private readonly faults = new Map<string, (ProviderFault | undefined)[]>();

  protected abstract readonly names: ProtocolNames;

  /** The action and its input, or a ProviderError for a request the protocol does not accept. */
  protected abstract parse(req: IncomingMessage, body: string): { action: string; input: Record<string, unknown> };
  /** The action's output, or a ProviderError. */
  protected abstract dispatch(action: string, input: Record<string, unknown>): unknown;
  protected abstract sendOutput(res: ServerResponse, action: string, output: unknown, requestId: string): void;
  protected abstract sendError(res: ServerResponse, error: ProviderError, requestId: string): void;

  /** The next `times` calls of `action` (after `skip` that go through) meet this fault. */
  public injectFault(action: string, fault: ProviderFault, times = 1, skip = 0): void {
    const queue = this.faults.get(action) ?? [];
    for (let i = 0; i < skip; i++) queue.push(undefined);
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(action, queue);
  }

  /** The next `times` calls of `action` are throttled. */
  public throttle(action: string, times = 1): void {
    this.injectFault(action, { kind: 'throttle' }, times);
  }

  /** The next `times` calls of `action` fail with an HTTP 500. */
  public failWith500(action: string, times = 1): void {
    this.injectFault(action, { kind: 'server-error' }, times);
  }

  /** The next `times` calls of `action` have their connection cut. */
  public drop(action: string, times = 1): void {
    this.injectFault(action, { kind: 'reset' }, times);
  }

  /** Calls of `action` received, throttled and failed ones included (those whose input matches `where`, if given). */
  public count(action: string, where: (input: Readonly<Record<string, unknown>>) => boolean = () => true): number {
    return this.calls.filter((c) => c.action === action && where(c.input)).length;
  }

  /** Clears faults and recorded calls; subclasses clear their objects too. */
  public reset(): void {
    this.faults.clear();
    this.calls.length = 0;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await LoopbackServer.readBody(req);
    const requestId = randomUUID();
    let action = '';
    let input: Record<string, unknown> = {};
    try {
      ({ action, input } = this.parse(req, body));
      this.checkCaller(String(req.headers.authorization ?? ''));
      const fault = this.faults.get(action)?.shift();
      if (fault?.kind === 'reset') {
        this.calls.push({ action, input, status: 0, error: 'ConnectionReset', at: this.now() });
        req.socket.destroy();
        return;
      }
      if (fault) throw this.faultError(fault);
      const output = this.dispatch(action, input);
      this.calls.push({ action, input, status: 200, at: this.now() });
      this.sendOutput(res, action, output, requestId);
    } catch (error) {
      const e = error instanceof ProviderError ? error : new ProviderError('InternalFailure', String(error), 500);
      this.calls.push({ action, input, status: e.status, error: e.type, at: this.now() });
      this.sendError(res, e, requestId);
    }
  }

  /** Epoch seconds on the emulator's clock, as the JSON protocols carry timestamps. */
  protected seconds(offset = 0): number {
    return Math.floor(this.now() / 1000) + offset;
  }

  private faultError(fault: Exclude<ProviderFault, { kind: 'reset' }>): ProviderError {
    switch (fault.kind) {
      case 'throttle':
        return new ProviderError(this.names.throttling, 'Rate exceeded');
      case 'server-error':
        return new ProviderError('InternalFailure', 'We encountered an internal error. Please try again.', 500);
      case 'exception':
        return new ProviderError(fault.name, fault.message ?? `${fault.name} (injected)`, fault.status ?? 400);
    }
  }

  /** SigV4's `Credential=<key>/<date>/<region>/<service>/aws4_request` names the caller and the region it signed for. */
  private checkCaller(authorization: string): void {
    if (!this.tenant) return;
    const scope = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\//.exec(authorization);
    if (!scope) throw new ProviderError(this.names.unsigned, 'the request is not signed', 403);
    const [, key = '', region] = scope;
    if (region !== this.tenant.region) {
      throw new ProviderError(this.names.badSignature, `signed for ${region}, but this endpoint is ${this.tenant.region}`, 403);
    }
    const account = this.tenant.accountOf(key);
    if (account === undefined)
      throw new ProviderError(this.names.unknownKey, 'The security token included in the request is invalid.', 403);
    if (account !== this.tenant.account) {
      throw new ProviderError(
        this.names.denied,
        `credentials of account ${account} used at the endpoint of account ${this.tenant.account}`,
        403,
      );
    }
  }
}

const JSON_NAMES: ProtocolNames = {
  throttling: 'ThrottlingException',
  unsigned: 'MissingAuthenticationTokenException',
  badSignature: 'InvalidSignatureException',
  unknownKey: 'UnrecognizedClientException',
  denied: 'AccessDeniedException',
};

/** AWS JSON 1.1: POST /, X-Amz-Target: <prefix>.<Operation>, errors as `{"__type", "message"}`. */
export abstract class JsonProviderEmulator extends ProviderEmulator {
  protected readonly names = JSON_NAMES;

  /** The target prefix, such as `CodeBuild_20161006`. */
  protected abstract readonly targetPrefix: string;

  protected parse(req: IncomingMessage, body: string): { action: string; input: Record<string, unknown> } {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith(`${this.targetPrefix}.`) ? target.slice(this.targetPrefix.length + 1) : target;
    if (req.method !== 'POST') throw new ProviderError('UnknownOperationException', 'only POST is supported');
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
      throw new ProviderError('SerializationException', 'Content-Type must be application/x-amz-json-1.1');
    }
    try {
      const input: unknown = body ? JSON.parse(body) : {};
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new Error('not an object');
      return { action, input: input as Record<string, unknown> };
    } catch {
      throw new ProviderError('SerializationException', 'body is not a JSON object');
    }
  }

  protected sendOutput(res: ServerResponse, _action: string, output: unknown, requestId: string): void {
    LoopbackServer.sendJson(res, 200, 'application/x-amz-json-1.1', output, requestId);
  }

  protected sendError(res: ServerResponse, error: ProviderError, requestId: string): void {
    LoopbackServer.sendJson(res, error.status, 'application/x-amz-json-1.1', { __type: error.type, message: error.message }, requestId);
  }

  /** An action this emulator does not serve. */
  protected unknown(action: string): never {
    throw new ProviderError('UnknownOperationException', `operation ${action} is not supported by the emulator`);
  }
}

/** A page of `items` from the offset in `token` (opaque, bound to `query`), and the token of the next page. */
export function page<T>(
  items: readonly T[],
  size: number,
  token: unknown,
  query: string,
  invalid: () => ProviderError,
): { items: T[]; next: string | undefined } {
  let offset = 0;
  if (token !== undefined) {
    const decoded = typeof token === 'string' ? /^(\d+):(.*)$/.exec(Buffer.from(token, 'base64url').toString('utf8')) : null;
    if (!decoded || decoded[2] !== query) throw invalid();
    offset = Number(decoded[1]);
  }
  const end = offset + size;
  return {
    items: items.slice(offset, end),
    next: end < items.length ? Buffer.from(`${end}:${query}`, 'utf8').toString('base64url') : undefined,
  };
}
