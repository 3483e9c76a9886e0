import { formatAuthority, parseEgressTarget } from './canonical-host.ts';
import { refusedVerdict, type EgressVerdict } from './egress-decider.ts';
import type { EgressAuditRecord, EgressAuditSink } from './egress-audit.ts';
import type { EgressGuard } from './egress-guard.ts';
import { authorizeHop, observeHop, type EgressHooks } from './egress-hooks.ts';
import type { EgressIdentity } from './egress-identity.ts';
import type { EgressReasonCode } from './egress-reason.ts';
import type { PinnedPools } from './pinned-pool.ts';
import type { SandboxLimiter } from './proxy-limits.ts';
import { auditRecord, renderRefusal, sandboxReason } from './proxy-response.ts';
import { forwardableHeaders } from './proxy-context.ts';
import { compileRedaction } from './secret-redaction.ts';
import { classifyUpstreamError } from './upstream-error.ts';

/**
 * The host side of an isolate's `fetch`: same guard, same identity, undici with
 * a connector that dials only the pinned address. Redirects are followed here,
 * each hop a new decision, so a permitted host cannot bounce the request to a
 * forbidden one. Refusals come back as responses (403/429/502/504 with
 * `X-Cordon-Error`), exactly as through the proxy, plus `refused` for the glue.
 * The caller's hooks (policy engine, session facts) run around every hop too.
 */
export interface GuardedFetchRequest {
  readonly url: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
  readonly body?: Uint8Array | string | null;
  /** follow (default), manual (return the 3xx), error (refuse on a redirect). */
  readonly redirect?: 'follow' | 'manual' | 'error';
  /** Aborts the fetch when its caller is gone (the sandbox finished); no request outlives its sandbox. */
  readonly signal?: AbortSignal;
  /** This sandbox's hooks: authorize before the guard decides each hop, observe after each upstream answer. */
  readonly hooks?: EgressHooks;
  /** A tighter response cap for this call (e.g. the isolate's own memory); never above the configured one. */
  readonly maxResponseBytes?: number;
}

export interface GuardedFetchResponse {
  readonly status: number;
  readonly statusText: string;
  /** Lower-case names, in upstream order; repeated names appear repeatedly. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
  /** The URL of the final hop. */
  readonly url: string;
  readonly redirected: boolean;
  /** Set when Cordon refused (the response is Cordon's, not the upstream's). */
  readonly refused: { readonly code: EgressReasonCode; readonly reason: string; readonly rule: string | null } | null;
}

export interface GuardedFetchOptions {
  readonly guard: EgressGuard;
  readonly pools: PinnedPools;
  readonly audit: EgressAuditSink;
  readonly maxRedirects?: number;
  readonly maxResponseBytes?: number;
  readonly maxRequestBytes?: number;
  /** Whole fetch, all hops. */
  readonly totalTimeoutMs?: number;
  /** The per-sandbox limiter the proxy uses too: one count of requests, connections and bytes for every channel. */
  readonly limiter?: SandboxLimiter;
}

export type GuardedFetch = (identity: EgressIdentity, request: GuardedFetchRequest) => Promise<GuardedFetchResponse>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function createGuardedFetch(options: GuardedFetchOptions): GuardedFetch {
  const maxRedirects = options.maxRedirects ?? 5;
  const maxResponseBytes = options.maxResponseBytes ?? 10 * 1024 * 1024;
  const maxRequestBytes = options.maxRequestBytes ?? 10 * 1024 * 1024;
  const totalTimeoutMs = options.totalTimeoutMs ?? 60_000;
  const record = (r: EgressAuditRecord): void => {
    try {
      options.audit.record(r);
    } catch {
      // The sink must not throw; if it does, the fetch result still stands.
    }
  };

  const limiter = options.limiter;
  // Each hop holds a connection slot of the sandbox's until the next hop starts or the fetch ends.
  const fetchHops = async (identity: EgressIdentity, request: GuardedFetchRequest, held: (() => void)[]): Promise<GuardedFetchResponse> => {
    const signal = request.signal === undefined ? AbortSignal.timeout(totalTimeoutMs) : AbortSignal.any([AbortSignal.timeout(totalTimeoutMs), request.signal]);
    let url = request.url;
    let method = request.method ?? 'GET';
    let body: Buffer | null = request.body === undefined || request.body === null ? null : Buffer.from(request.body);
    let sandboxHeaders = toRawHeaders(request.headers);
    const hooks = request.hooks;
    // Only ever tighter: NaN or a larger value falls back to the configured cap.
    const responseCap = request.maxResponseBytes !== undefined && request.maxResponseBytes < maxResponseBytes ? Math.max(0, request.maxResponseBytes) : maxResponseBytes;
    if (body !== null && body.length > maxRequestBytes) {
      return refusal(url, 0, { code: 'byte_limit', reason: `request body is larger than ${maxRequestBytes} bytes`, rule: null });
    }

    for (let hop = 0; ; hop++) {
      const startedAtMs = Date.now();
      const parsed = parseEgressTarget({ url, method });
      for (const release of held.splice(0)) release();
      const admitted = limiter?.admit(identity.id);
      if (admitted !== undefined && !admitted.ok) {
        // Refused before deciding, as through the proxy: a sandbox over its limits gets no lookups or policy calls.
        const verdict = refusedVerdict(identity.egressPolicy ?? '', parsed.ok ? parsed.target : null, admitted.code, admitted.reason, 'cordon:limits');
        const r = refusalFromVerdict(verdict);
        record(auditRecord({ identity, channel: 'fetch', kind: 'http', verdict, startedAtMs, redirectHop: hop, status: r.status, endedAtMs: Date.now(), bytesToUpstream: 0, bytesFromUpstream: 0, injected: [] }));
        return { ...r, url, redirected: hop > 0 };
      }
      if (admitted !== undefined) held.push(admitted.release);
      // A URL that does not parse goes nowhere (the guard refuses it below), so there is nothing to ask the hooks.
      const hooked = parsed.ok ? await authorizeHop(hooks, identity, parsed.target, hop, 'fetch', signal) : null;
      const verdict = hooked?.verdict ?? (await options.guard.check(identity, parsed.ok ? parsed.target : { url, method }, signal));
      const facts = { identity, channel: 'fetch' as const, kind: 'http' as const, verdict, startedAtMs, redirectHop: hop };
      if (verdict.decision.result !== 'allow' || verdict.address === null || verdict.target === null || verdict.target.scheme === 'connect') {
        const r = refusalFromVerdict(verdict);
        record(auditRecord({ ...facts, outcome: hooked?.outcome, status: r.status, endedAtMs: Date.now(), bytesToUpstream: 0, bytesFromUpstream: 0, injected: [] }));
        return { ...r, url, redirected: hop > 0 };
      }
      const target = verdict.target;
      const scheme = target.scheme === 'https' ? 'https' : 'http';
      const injection = options.guard.injection(verdict);
      if (!injection.ok) {
        const outcome = { code: 'secret_unavailable' as const, reason: `secret ${injection.missing} is not available`, result: 'deny' as const };
        record(auditRecord({ ...facts, outcome, status: 502, endedAtMs: Date.now(), bytesToUpstream: 0, bytesFromUpstream: 0, injected: [] }));
        return refusal(url, hop, { code: 'secret_unavailable', reason: `a credential for ${target.host} is not configured`, rule: verdict.decision.ruleId });
      }
      const drop = new Set(['content-length']);
      if (injection.header !== null) drop.add(injection.header.name);
      const headers = forwardableHeaders(sandboxHeaders, drop);
      headers.push('host', formatAuthority(target));
      if (injection.header !== null) {
        headers.push(injection.header.name, injection.header.value);
        for (let i = 0; i < headers.length; i += 2) if (headers[i]?.toLowerCase() === 'accept-encoding') headers.splice(i, 2);
        headers.push('accept-encoding', 'identity');
      }
      const secrets = injection.secretValues;
      const injected = injection.header === null ? [] : [injection.header.name];

      const pool = options.pools.get({ sandboxId: identity.id, scheme, address: verdict.address, port: target.port, servername: target.hostKind === 'dns' ? target.host : null });
      let status = 0;
      let received = 0;
      const chunks: Buffer[] = [];
      let upstreamHeaders: Record<string, string | string[] | undefined> = {};
      let outcome: { code: EgressReasonCode; reason: string; result: 'allow' | 'deny' } | undefined;
      try {
        const res = await pool.request({ method, path: `${target.path ?? '/'}${target.search}`, headers, body, signal });
        status = res.statusCode;
        upstreamHeaders = res.headers;
        // The request reached this host and it answered: noted even if the body is then cut,
        // because facts only ever add restrictions and the sandbox's bytes already left.
        observeHop(hooks, target, status, 'fetch');
        if (body !== null) limiter?.addBytes(identity.id, body.length);
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (limiter?.addBytes(identity.id, chunk.length) === false) {
            res.body.destroy();
            outcome = { code: 'byte_limit', reason: `sandbox ${identity.id} used its egress byte budget (egress.sandboxLimits.maxTotalBytes)`, result: 'deny' };
            break;
          }
          if (received > responseCap) {
            res.body.destroy();
            outcome = { code: 'response_too_large', reason: `response exceeded ${responseCap} bytes`, result: 'deny' };
            break;
          }
          chunks.push(chunk);
        }
      } catch (err) {
        const code = classifyUpstreamError(err, signal);
        outcome = { code, reason: `${code}: ${(err as Error).message}`, result: 'deny' };
      }
      record(auditRecord({ ...facts, outcome, status: outcome === undefined ? status : 0, endedAtMs: Date.now(), bytesToUpstream: body?.length ?? 0, bytesFromUpstream: received, injected }));
      if (outcome !== undefined) {
        const reason = outcome.code === 'connect_timeout' ? `connecting to ${target.host} timed out` : outcome.code === 'response_too_large' ? outcome.reason : sandboxReason({ ...verdict, code: outcome.code });
        return refusal(url, hop, { code: outcome.code, reason, rule: verdict.decision.ruleId });
      }

      const location = firstHeader(upstreamHeaders['location']);
      if (REDIRECTS.has(status) && location !== undefined && request.redirect !== 'manual') {
        if (request.redirect === 'error') return refusal(url, hop, { code: 'redirect_limit', reason: `redirected to ${location} and redirect is "error"`, rule: null });
        if (hop >= maxRedirects) return refusal(url, hop, { code: 'redirect_limit', reason: `more than ${maxRedirects} redirects`, rule: null });
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          return refusal(url, hop, { code: 'invalid_request', reason: 'the redirect Location does not parse', rule: null });
        }
        const crossOrigin = next.origin !== new URL(url).origin;
        // As fetch does: 303 (and 301/302 after POST) become GET without a body.
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = method === 'HEAD' ? 'HEAD' : 'GET';
          body = null;
          sandboxHeaders = withoutHeaders(sandboxHeaders, null, /^content-/i);
        }
        // Credentials the sandbox set itself do not follow it to another origin.
        if (crossOrigin) sandboxHeaders = withoutHeaders(sandboxHeaders, new Set(['authorization', 'cookie', 'proxy-authorization']));
        url = next.href;
        continue;
      }

      let out = Buffer.concat(chunks);
      const redaction = compileRedaction(secrets);
      const headersOut: Array<[string, string]> = [];
      for (const [name, value] of Object.entries(upstreamHeaders)) {
        // Only Cordon's own refusals carry x-cordon-error: an upstream may not pose as one.
        if (value === undefined || name === 'x-cordon-error') continue;
        // Redaction changes the body's length; the glue frames the bytes it gets.
        if (secrets.length > 0 && name === 'content-length') continue;
        for (const v of Array.isArray(value) ? value : [value]) headersOut.push([name, redaction.text(v)]);
      }
      if (redaction.active) out = Buffer.from(redaction.bytes(out));
      return { status, statusText: '', headers: headersOut, body: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), url, redirected: hop > 0, refused: null };
    }
  };

  return async (identity, request) => {
    const held: (() => void)[] = [];
    try {
      return await fetchHops(identity, request, held);
    } finally {
      for (const release of held) release();
    }
  };
}

function refusalFromVerdict(v: EgressVerdict): Omit<GuardedFetchResponse, 'url' | 'redirected'> {
  const reason = sandboxReason(v);
  return build({ code: v.code, reason, rule: v.decision.ruleId }, v.decision.details);
}

function refusal(url: string, hop: number, refused: NonNullable<GuardedFetchResponse['refused']>): GuardedFetchResponse {
  return { ...build(refused), url, redirected: hop > 0 };
}

function build(refused: NonNullable<GuardedFetchResponse['refused']>, decision?: Readonly<Record<string, unknown>>): Omit<GuardedFetchResponse, 'url' | 'redirected'> {
  const r = renderRefusal(refused.code, refused.reason, refused.rule, decision);
  return { status: r.status, statusText: '', headers: Object.entries(r.headers), body: new TextEncoder().encode(r.body), refused };
}

function toRawHeaders(h: GuardedFetchRequest['headers']): string[] {
  if (h === undefined) return [];
  const pairs = Array.isArray(h) ? (h as ReadonlyArray<readonly [string, string]>) : Object.entries(h as Record<string, string>);
  const out: string[] = [];
  for (const [k, v] of pairs) {
    // A header the sandbox could use to split the request is refused by undici; drop it here first.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n\0]/.test(v)) continue;
    out.push(k, v);
  }
  return out;
}

function withoutHeaders(raw: string[], names: ReadonlySet<string> | null, pattern?: RegExp): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (names?.has(name) === true || pattern?.test(name) === true) continue;
    out.push(raw[i] ?? '', raw[i + 1] ?? '');
  }
  return out;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
