import { Pool, type Dispatcher } from 'undici';
import { CordonClientError, parseRetryAfter } from './client-errors.ts';
import { parseStrictJson } from './strict-json.ts';

export interface TransportOptions {
  /** The server's base URL: http(s)://host:port with an optional path prefix. */
  readonly url: URL;
  /** Longest one request may take end to end (connect, headers and whole body). */
  readonly timeoutMs: number;
  /** Largest answer body read; past it the answer is dropped (CLIENT_RESPONSE_TOO_LARGE). */
  readonly maxResponseBytes: number;
  /** Largest answer head (status line and headers). */
  readonly maxHeaderBytes: number;
  /** Deepest JSON nesting accepted in an answer. */
  readonly maxJsonDepth: number;
  /** Connections kept to the server. */
  readonly connections: number;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path and query below the base URL, starting with "/". */
  readonly path: string;
  readonly authorization?: string;
  /** Sent as application/json. */
  readonly json?: unknown;
  /** Sent as application/x-www-form-urlencoded (the token endpoint). */
  readonly form?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Overrides the client's timeoutMs (a long-poll waits longer). */
  readonly timeoutMs?: number;
}

export interface HttpAnswer {
  readonly status: number;
  /** The JSON object answered, or null for an empty answer (204). */
  readonly body: Record<string, unknown> | null;
  readonly requestId: string | null;
  readonly retryAfterMs: number | null;
}

export interface Transport {
  request(req: HttpRequest): Promise<HttpAnswer>;
  close(): Promise<void>;
  readonly closed: boolean;
}

const header = (headers: Dispatcher.ResponseData['headers'], name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** A function, not an inline check: the signal changes while the request is under way. */
const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** An x-request-id is only kept when it looks like one: it ends up in logs and messages. */
export const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * HTTP to one Cordon server through a Pool of its own (closed by close()). Every request has a
 * deadline for the whole exchange, not just idle time between chunks: a server that drips one
 * byte a second would otherwise hold a caller forever. Answers are read up to a byte limit and
 * parsed strictly; redirects are never followed (a token must not travel to another origin).
 */
export function createTransport(options: TransportOptions): Transport {
  const prefix = options.url.pathname.replace(/\/+$/, '');
  const pool = new Pool(options.url.origin, {
    connections: options.connections,
    maxHeaderSize: options.maxHeaderBytes,
    connectTimeout: Math.min(options.timeoutMs, 10_000),
  });
  let closed = false;
  // Fired by close(): requests under way (a long-poll, a running call) end at once, as CLIENT_CLOSED.
  const closing = new AbortController();

  const fail = (code: ConstructorParameters<typeof CordonClientError>[0], message: string, extra: ConstructorParameters<typeof CordonClientError>[2] = {}) => new CordonClientError(code, message, extra);

  async function readBody(res: Dispatcher.ResponseData, status: number, requestId: string | null): Promise<Uint8Array> {
    const declared = Number(header(res.headers, 'content-length'));
    if (Number.isFinite(declared) && declared > options.maxResponseBytes) {
      res.body.destroy();
      throw fail('CLIENT_RESPONSE_TOO_LARGE', `the answer declares ${declared} bytes, over the client's limit of ${options.maxResponseBytes} (maxResponseBytes)`, { status, requestId, details: { limitBytes: options.maxResponseBytes } });
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > options.maxResponseBytes) {
        // Destroying the body drops its connection; the pool opens a fresh one for the next call.
        res.body.destroy();
        throw fail('CLIENT_RESPONSE_TOO_LARGE', `the answer exceeds the client's limit of ${options.maxResponseBytes} bytes (maxResponseBytes); it was not read further`, { status, requestId, details: { limitBytes: options.maxResponseBytes } });
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  return {
    get closed() {
      return closed;
    },

    async request(req) {
      if (closed) throw fail('CLIENT_CLOSED', 'this Cordon client was closed; build a new one');
      const timeoutMs = req.timeoutMs ?? options.timeoutMs;
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any(req.signal === undefined ? [deadline, closing.signal] : [deadline, closing.signal, req.signal]);
      if (isAborted(req.signal)) throw fail('CLIENT_ABORTED', 'the request was aborted by its signal before it was sent', { cause: req.signal?.reason });

      const headers: Record<string, string> = { accept: 'application/json' };
      if (req.authorization !== undefined) headers.authorization = req.authorization;
      let body: string | undefined;
      if (req.json !== undefined) {
        headers['content-type'] = 'application/json';
        try {
          body = JSON.stringify(req.json);
        } catch (err) {
          throw fail('CLIENT_OPTIONS_INVALID', `the request body cannot be sent as JSON: ${err instanceof Error ? err.message.slice(0, 200) : 'unknown'}`, { cause: err, details: { field: 'input' } });
        }
      } else if (req.form !== undefined) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = new URLSearchParams(req.form as Record<string, string>).toString();
      }

      let status = 0;
      let requestId: string | null = null;
      try {
        // The deadline is the one that counts. undici's own idle timeouts are set to it per request:
        // left at the pool's, they would cut a long-poll that waits longer than timeoutMs.
        const res = await pool.request({ method: req.method, path: `${prefix}${req.path}`, headers, body, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        status = res.statusCode;
        const rid = header(res.headers, 'x-request-id');
        requestId = rid !== undefined && REQUEST_ID.test(rid) ? rid : null;
        const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
        const bytes = await readBody(res, status, requestId);
        if (bytes.length === 0) return { status, body: null, requestId, retryAfterMs };
        const type = header(res.headers, 'content-type') ?? '';
        if (!/^application\/json\s*(;|$)/i.test(type)) {
          throw fail('CLIENT_RESPONSE_MALFORMED', `the server answered ${status} with content-type ${JSON.stringify(type.slice(0, 64))}, not JSON: is the URL a Cordon server?`, { status, requestId, details: { reason: 'not_json' } });
        }
        const parsed = parseStrictJson(bytes, options.maxJsonDepth);
        if (!parsed.ok) {
          const why = { not_utf8: 'is not valid UTF-8', too_deep: `nests deeper than ${options.maxJsonDepth} levels`, not_json: 'is not valid JSON', not_an_object: 'is not a JSON object' }[parsed.reason];
          throw fail('CLIENT_RESPONSE_MALFORMED', `the server's ${status} answer ${why}`, { status, requestId, details: { reason: parsed.reason } });
        }
        return { status, body: parsed.value, requestId, retryAfterMs };
      } catch (err) {
        if (err instanceof CordonClientError) throw err;
        if (closing.signal.aborted) throw fail('CLIENT_CLOSED', 'this Cordon client was closed while the request was under way', { status, requestId, cause: err });
        if (isAborted(req.signal)) throw fail('CLIENT_ABORTED', 'the request was aborted by its signal', { status, requestId, cause: err });
        if (deadline.aborted) throw fail('CLIENT_TIMEOUT', `no complete answer within ${timeoutMs} ms (timeoutMs)`, { status, requestId, details: { timeoutMs }, cause: err });
        const code = (err as { code?: unknown }).code;
        if (code === 'UND_ERR_HEADERS_OVERFLOW') throw fail('CLIENT_RESPONSE_TOO_LARGE', `the answer's headers exceed ${options.maxHeaderBytes} bytes`, { status, requestId, cause: err });
        if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
          throw fail('CLIENT_TIMEOUT', `no complete answer within ${timeoutMs} ms (timeoutMs)`, { status, requestId, details: { timeoutMs }, cause: err });
        }
        const why = err instanceof Error ? err.message.slice(0, 200) : 'unknown failure';
        throw fail('CLIENT_TRANSPORT_FAILED', `no answer from ${options.url.origin}: ${why}`, { status, requestId, details: { cause: typeof code === 'string' ? code : null }, cause: err });
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      closing.abort();
      await pool.close();
    },
  };
}
