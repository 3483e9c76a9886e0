import type { KeyObject } from 'node:crypto';
import { createAgentCredentials, type AgentCredentials } from './agent-credentials.ts';
import { errorFromAnswer, runResultOf, sandboxListOf, sandboxOf, toolListOf } from './answers.ts';
import { CordonClientError } from './client-errors.ts';
import { isHeld, type RunOptions, type RunResult, type SandboxInfo, type ToolDescriptor, type WaitOptions } from './client-types.ts';
import { createDelegatedCredentials, type Credentials, type DelegationOptions, type UserTokenSource } from './delegated-credentials.ts';
import { createFileMethods, type FileMethods } from './file-methods.ts';
import { createTransport, type HttpAnswer, type HttpRequest, type Transport } from './http-transport.ts';
import { parseServerUrl } from './server-url.ts';

export interface CordonOptions {
  /** The runner API, e.g. http://127.0.0.1:7070 (`cordon serve`). */
  readonly url: string;
  /** The agent this client acts as: its registered id and its Ed25519 private key (KeyObject or PEM). */
  readonly agent: { readonly id: string; readonly privateKey: KeyObject | string };
  /** The `aud` of every token the client signs: the server's auth.audience. Default "cordon". */
  readonly audience?: string;
  /** Longest one request may take, whole answer included. Default 120 000 ms. */
  readonly timeoutMs?: number;
  /** Largest answer body the client reads. Default 8 MiB. */
  readonly maxResponseBytes?: number;
  /** Deepest JSON nesting accepted in an answer. Default 128. */
  readonly maxJsonDepth?: number;
  /** Lifetime of each self-signed bearer token, 10 to 300 s. Default 120. */
  readonly tokenTtlSec?: number;
  /** Connections kept to the server. Default 8. */
  readonly connections?: number;
  /** Allow plain http to a host that is not loopback (tokens would cross the network in clear). Default false. */
  readonly allowInsecureHttp?: boolean;
}

export interface SandboxMethods {
  /** POST /v1/sandboxes: a session sandbox of `profile` (the server's default profile when omitted). */
  create(options?: { profile?: string; signal?: AbortSignal }): Promise<SandboxInfo>;
  /** GET /v1/sandboxes: this principal's live sandboxes. */
  list(options?: { signal?: AbortSignal }): Promise<SandboxInfo[]>;
  /** DELETE /v1/sandboxes/:id. */
  destroy(sandbox: string | { readonly id: string }, options?: { signal?: AbortSignal }): Promise<void>;
}

/** What a derived client (onBehalfOf) shares with the one it came from. */
class Shared {
  readonly transport: Transport;
  readonly agent: AgentCredentials;
  readonly credentials: Credentials;
  readonly settings: { readonly audience: string; readonly timeoutMs: number; pollWaitMs: number };

  constructor(transport: Transport, agent: AgentCredentials, credentials: Credentials, settings: Shared['settings']) {
    this.transport = transport;
    this.agent = agent;
    this.credentials = credentials;
    this.settings = settings;
  }
}

const SANDBOX_ID = /^sbx_[A-Za-z0-9_-]{1,64}$/;
/** What can go into a URL path: anything else would let a caller's string change the route. */
const INVOCATION_ID = /^inv_[A-Za-z0-9]{1,64}$/;
const TOOL_NAME = /^[a-z][a-z0-9._-]{0,63}$/;
const DEFAULT_WAIT_MS = 15 * 60_000;
/** Each long-poll asks the server to hold this long at most (its approvals.maxWaitMs default is 30 s). */
const POLL_WAIT_MS = 25_000;
/** The least time between two polls while a call waits, when the server answers at once. */
const MIN_POLL_GAP_MS = 1000;

function positiveInt(value: number | undefined, fallback: number, field: string, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new CordonClientError('CLIENT_OPTIONS_INVALID', `${field} must be a whole number from 1 to ${max}`, { details: { field } });
  return value;
}

function refuseBadOption(ok: boolean, field: string, message: string): void {
  if (!ok) throw new CordonClientError('CLIENT_OPTIONS_INVALID', message, { details: { field } });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new CordonClientError('CLIENT_ABORTED', 'waiting for the approval was aborted by its signal', { cause: signal.reason }));
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(new CordonClientError('CLIENT_ABORTED', 'waiting for the approval was aborted by its signal', { cause: signal?.reason }));
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

/**
 * A client of Cordon's runner API, acting as one agent (or, from onBehalfOf, for one user).
 * It signs its own short-lived credentials, talks HTTP through a pool of its own, and turns
 * every refusal into a CordonClientError typed by Cordon's code.
 */
export class Cordon {
  readonly agentId: string;
  /** True for a client from onBehalfOf(): calls are made for that user. */
  readonly delegated: boolean;
  readonly sandboxes: SandboxMethods;
  readonly files: FileMethods;
  readonly #shared: Shared;
  readonly #ownsTransport: boolean;
  #closed = false;

  constructor(options: CordonOptions);
  constructor(options: CordonOptions | Shared) {
    if (options instanceof Shared) {
      this.#shared = options;
      this.#ownsTransport = false;
      this.delegated = true;
    } else {
      refuseBadOption(typeof options === 'object' && options !== null, 'options', 'new Cordon({ url, agent: { id, privateKey } })');
      refuseBadOption(typeof options.agent === 'object' && options.agent !== null, 'agent', 'agent must be { id, privateKey }');
      const audience = options.audience ?? 'cordon';
      refuseBadOption(typeof audience === 'string' && audience.length > 0 && audience.length <= 256, 'audience', 'audience must be a non-empty string (the server\'s auth.audience)');
      const url = parseServerUrl(options.url, options.allowInsecureHttp === true);
      const timeoutMs = positiveInt(options.timeoutMs, 120_000, 'timeoutMs', 3_600_000);
      const agent = createAgentCredentials({ agentId: options.agent.id, privateKey: options.agent.privateKey, audience, tokenTtlSec: options.tokenTtlSec ?? 120 });
      const transport = createTransport({
        url,
        timeoutMs,
        maxResponseBytes: positiveInt(options.maxResponseBytes, 8 * 1024 * 1024, 'maxResponseBytes', 1024 * 1024 * 1024),
        maxHeaderBytes: 16 * 1024,
        maxJsonDepth: positiveInt(options.maxJsonDepth, 128, 'maxJsonDepth', 10_000),
        connections: positiveInt(options.connections, 8, 'connections', 1024),
      });
      this.#shared = new Shared(transport, agent, { authorization: () => agent.authorization() }, { audience, timeoutMs, pollWaitMs: POLL_WAIT_MS });
      this.#ownsTransport = true;
      this.delegated = false;
    }
    this.agentId = this.#shared.agent.agentId;
    this.files = createFileMethods((tool, input, runOptions) => this.run(tool, input, runOptions));
    this.sandboxes = {
      create: async (opts = {}) => {
        const answer = await this.#call({ method: 'POST', path: '/v1/sandboxes', json: opts.profile === undefined ? {} : { profile: opts.profile }, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
        if (answer.status !== 201) throw errorFromAnswer(answer);
        return sandboxOf(answer);
      },
      list: async (opts = {}) => {
        const answer = await this.#call({ method: 'GET', path: '/v1/sandboxes', ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
        if (answer.status !== 200) throw errorFromAnswer(answer);
        return sandboxListOf(answer);
      },
      destroy: async (sandbox, opts = {}) => {
        const id = typeof sandbox === 'string' ? sandbox : sandbox?.id;
        refuseBadOption(typeof id === 'string' && SANDBOX_ID.test(id), 'sandbox', 'sandbox must be a sandbox id (sbx_…) or the object sandboxes.create() returned');
        const answer = await this.#call({ method: 'DELETE', path: `/v1/sandboxes/${id}`, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
        if (answer.status !== 204) throw errorFromAnswer(answer);
      },
    };
  }

  async #call(req: HttpRequest): Promise<HttpAnswer> {
    if (this.#closed) throw new CordonClientError('CLIENT_CLOSED', 'this Cordon client was closed; build a new one');
    const authorization = await this.#shared.credentials.authorization();
    return this.#shared.transport.request({ ...req, authorization });
  }

  /**
   * Runs one tool call. A call policy holds for a human answers `{status: 'pending_approval'}`
   * (never an error): pass it to waitForApproval(). A call that ran answers its result, whose
   * `status` is the tool's own (`error` when the code failed). A refusal throws CordonClientError.
   */
  async run<O = unknown>(tool: string, input: unknown, options: RunOptions = {}): Promise<RunResult<O>> {
    refuseBadOption(typeof tool === 'string' && TOOL_NAME.test(tool), 'tool', 'tool must be a tool name such as "code" or "file.read"');
    if (options.timeoutMs !== undefined) positiveInt(options.timeoutMs, 0, 'timeoutMs', 3_600_000);
    const body = {
      tool,
      input,
      ...(options.session === undefined ? {} : { session: options.session }),
      ...(options.sandbox === undefined ? {} : { sandbox: options.sandbox }),
      ...(options.profile === undefined ? {} : { profile: options.profile }),
    };
    const answer = await this.#call({ method: 'POST', path: '/v1/invocations', json: body, ...(options.signal === undefined ? {} : { signal: options.signal }), ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
    if (answer.status === 200 || answer.status === 202) return runResultOf<O>(answer);
    throw errorFromAnswer(answer);
  }

  /**
   * Waits for a held call: long-polls GET /v1/invocations/:id until it ran (its result), was
   * denied (throws APPROVAL_DENIED) or expired (throws APPROVAL_EXPIRED). When `timeoutMs`
   * passes first, it answers the call as still held. A result that is not held is answered as is.
   */
  async waitForApproval<O = unknown>(call: string | RunResult<O>, options: WaitOptions = {}): Promise<RunResult<O>> {
    if (typeof call === 'object' && call !== null && !isHeld(call)) return call;
    const id = typeof call === 'string' ? call : call?.id;
    refuseBadOption(typeof id === 'string' && INVOCATION_ID.test(id), 'call', 'waitForApproval needs an invocation id (inv_…) or the result run() answered');
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    refuseBadOption(Number.isInteger(timeoutMs) && timeoutMs >= 0, 'timeoutMs', 'timeoutMs must be a whole number of milliseconds');
    const settings = this.#shared.settings;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const waitMs = Math.max(0, Math.min(settings.pollWaitMs, deadline - Date.now()));
      const started = Date.now();
      const answer = await this.#call({ method: 'GET', path: `/v1/invocations/${id}?waitMs=${waitMs}`, timeoutMs: waitMs + settings.timeoutMs, ...(options.signal === undefined ? {} : { signal: options.signal }) });
      if (answer.status !== 200) {
        const err = errorFromAnswer(answer);
        // A server whose approvals.maxWaitMs is below ours says its cap; ask within it from now on.
        const maximum = err.code === 'INPUT_INVALID' && err.details.field === 'query/waitMs' ? err.details.maximum : undefined;
        const cap = typeof maximum === 'number' && Number.isSafeInteger(maximum) && maximum >= 0 ? maximum : undefined;
        if (cap !== undefined && Number(cap) < settings.pollWaitMs) {
          settings.pollWaitMs = Number(cap);
          continue;
        }
        throw err;
      }
      const state = runResultOf<O>(answer);
      if (!isHeld(state)) return state;
      const left = deadline - Date.now();
      if (left <= 0) return state;
      // The server answered before our wait was up (its cap is 0, or it is closing): never spin.
      const early = MIN_POLL_GAP_MS - (Date.now() - started);
      if (early > 0) await sleep(Math.min(early, left), options.signal);
    }
  }

  /** GET /v1/tools: the tools this server offers, with their input and output schemas. */
  async tools(options: { signal?: AbortSignal } = {}): Promise<ToolDescriptor[]> {
    const answer = await this.#call({ method: 'GET', path: '/v1/tools', ...(options.signal === undefined ? {} : { signal: options.signal }) });
    if (answer.status !== 200) throw errorFromAnswer(answer);
    return toolListOf(answer);
  }

  /**
   * A client that acts for a user: its calls carry a Cordon token from an RFC 8693 exchange
   * (the user's token + this agent's assertion), renewed before it expires. It shares this
   * client's connections; close() on it ends only it, close() here ends both.
   */
  onBehalfOf(userToken: UserTokenSource, options: DelegationOptions = {}): Cordon {
    if (this.#closed) throw new CordonClientError('CLIENT_CLOSED', 'this Cordon client was closed; build a new one');
    const { transport, agent, settings } = this.#shared;
    const credentials = createDelegatedCredentials(transport, agent, userToken, { ...options, audience: settings.audience });
    return new (Cordon as unknown as new (shared: Shared) => Cordon)(new Shared(transport, agent, credentials, { ...settings }));
  }

  /** Ends this client: requests under way fail with CLIENT_CLOSED, and so does every later call. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#ownsTransport) await this.#shared.transport.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
