import { CordonError } from '../../core/errors.ts';

/**
 * The 2026-07-28 revision's `Mcp-Method` / `Mcp-Name` request headers (SEP-2243). They let a
 * server route or refuse a request before reading its body; once read, the body must agree.
 */

export interface McpHeaders {
  readonly method: string | undefined;
  /** Decoded (a `=?base64?…?=` value is a name that is not plain ASCII). */
  readonly name: string | undefined;
}

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/i;

function single(value: string | string[] | undefined, header: string): string | undefined {
  if (value === undefined) return undefined;
  // Two of them cannot both be believed; Node joins repeats of custom headers with ", " anyway.
  if (Array.isArray(value)) throw new CordonError('REQUEST_MALFORMED', `send ${header} once`, { details: { header } });
  return value.trim();
}

/** Reads both headers; a malformed value is REQUEST_MALFORMED (400). */
export function readMcpHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): McpHeaders {
  const method = single(headers['mcp-method'], 'Mcp-Method');
  const raw = single(headers['mcp-name'], 'Mcp-Name');
  if (raw === undefined) return { method, name: undefined };
  const encoded = SENTINEL.exec(raw);
  if (encoded === null) return { method, name: raw };
  const decoded = Buffer.from(encoded[1] ?? '', 'base64').toString('utf8');
  if (Buffer.from(decoded, 'utf8').toString('base64').replace(/=+$/, '') !== (encoded[1] ?? '').replace(/=+$/, '')) {
    throw new CordonError('REQUEST_MALFORMED', 'the Mcp-Name header carries an invalid base64 value', { details: { header: 'Mcp-Name' } });
  }
  return { method, name: decoded };
}

/**
 * The body's method and name must be what the headers said: the headers decided whether the
 * body was read at all, so a body that says otherwise is refused (400), never served.
 * Only needed where the SDK does not check it itself (2025-era requests, which carry no
 * per-request envelope; the SDK cross-checks enveloped ones and answers -32020).
 */
export function checkHeadersMatchBody(headers: McpHeaders, body: unknown): void {
  const message = body as { method?: unknown; params?: { name?: unknown } } | null;
  const method = typeof message?.method === 'string' ? message.method : undefined;
  if (headers.method !== undefined && headers.method !== method) {
    throw new CordonError('REQUEST_MALFORMED', `the Mcp-Method header says ${JSON.stringify(headers.method.slice(0, 64))} but the body's method is ${JSON.stringify(method?.slice(0, 64) ?? null)}`, { details: { header: 'Mcp-Method' } });
  }
  if (headers.name !== undefined && method === 'tools/call') {
    const name = typeof message?.params?.name === 'string' ? message.params.name : undefined;
    if (name !== headers.name) {
      throw new CordonError('REQUEST_MALFORMED', `the Mcp-Name header says ${JSON.stringify(headers.name.slice(0, 64))} but the body calls ${JSON.stringify(name?.slice(0, 64) ?? null)}`, { details: { header: 'Mcp-Name' } });
    }
  }
}
