import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { formatAuthority, parseUrlTarget } from './canonical-host.ts';
import { refusedVerdict, type EgressVerdict } from './egress-decider.ts';
import { authorizeHop, observeHop } from './egress-hooks.ts';
import type { EgressReasonCode } from './egress-reason.ts';
import { auditRecord, renderRefusal, sandboxReason } from './proxy-response.ts';
import { forwardableHeaders, type ChannelRef, type ProxyContext } from './proxy-context.ts';
import { classifyUpstreamError } from './upstream-error.ts';
import { relayResponse } from './relay-response.ts';

/**
 * An absolute-form request through the proxy (`GET http://host/path HTTP/1.1`).
 * Every request is decided on its own, so one kept-alive client connection can
 * never carry a request the guard did not see. `https://` in absolute form is
 * accepted too: Cordon opens the TLS connection itself, which is the only way
 * methods, paths and secret injection can apply to https from a container.
 * The channel's hooks authorize each request before the guard and observe each
 * upstream answer, as the fetch bridge does for each hop.
 */
export async function handleForward(ctx: ProxyContext, channel: ChannelRef, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const startedAtMs = Date.now();
  const identity = channel.identity;
  let verdict: EgressVerdict | null = null;
  let status = 0;
  let bytesUp = 0;
  let bytesDown = 0;
  let injected: string[] = [];
  let outcome: { code: EgressReasonCode; reason: string; result: 'allow' | 'deny' } | undefined;

  const refuse = (v: EgressVerdict, code: EgressReasonCode = v.code, reason = sandboxReason(v)): void => {
    const r = renderRefusal(code, reason, v.decision.ruleId, v.decision.details);
    status = r.status;
    if (!res.headersSent) {
      res.writeHead(r.status, r.headers);
      res.end(r.body);
    } else res.destroy();
  };

  const rawUrl = req.url ?? '';
  if (!/^https?:\/\//i.test(rawUrl)) {
    verdict = refusedVerdict(identity.egressPolicy ?? '', null, 'invalid_request', 'not a proxy request: send absolute-form (GET http://host/path) or CONNECT', null);
    refuse(verdict);
    ctx.record(auditRecord({ identity, channel: channel.kind, kind: 'http', verdict, status, startedAtMs, endedAtMs: Date.now(), bytesToUpstream: 0, bytesFromUpstream: 0, injected }));
    return;
  }

  const admitted = ctx.limiter.admit(identity.id);
  const controller = new AbortController();
  const total = setTimeout(() => controller.abort(new Error('total timeout')), ctx.timeouts.totalTimeoutMs);
  try {
    const parsed = parseUrlTarget(rawUrl, req.method ?? 'GET');
    if (!admitted.ok) {
      // Refused before deciding: a sandbox over its limits gets no lookups (and no policy calls) done for it.
      verdict = refusedVerdict(identity.egressPolicy ?? '', parsed.ok ? parsed.target : null, admitted.code, admitted.reason, 'cordon:limits');
      return refuse(verdict);
    }
    // A URL that does not parse goes nowhere (the guard refuses it), so there is nothing to ask the hooks.
    const hooked = parsed.ok ? await authorizeHop(channel.hooks, identity, parsed.target, 0, 'proxy', controller.signal) : null;
    if (hooked !== null) {
      verdict = hooked.verdict;
      outcome = hooked.outcome;
      return refuse(verdict);
    }
    verdict = await ctx.guard.check(identity, parsed.ok ? parsed.target : { url: rawUrl, method: req.method ?? 'GET' }, controller.signal);
    if (verdict.decision.result !== 'allow' || verdict.address === null || verdict.target === null) return refuse(verdict);
    const target = verdict.target;
    if (target.scheme === 'connect') return refuse(verdict, 'invalid_request', 'use CONNECT for tunnels');

    const injection = ctx.guard.injection(verdict);
    if (!injection.ok) {
      outcome = { code: 'secret_unavailable', reason: `secret ${injection.missing} is not available`, result: 'deny' };
      return refuse(verdict, 'secret_unavailable', `a credential for ${target.host} is not configured`);
    }
    const drop = new Set<string>();
    if (injection.header !== null) drop.add(injection.header.name);
    const headers = forwardableHeaders(req.rawHeaders, drop);
    // The Host header is rebuilt from the checked URL: the upstream must route on
    // the host we decided on, not on one the sandbox typed into a header.
    headers.push('host', formatAuthority(target));
    const secrets = injection.secretValues;
    if (injection.header !== null) {
      headers.push(injection.header.name, injection.header.value);
      injected = [injection.header.name];
      // Compressed responses would hide an echoed secret from the redactor.
      for (let i = 0; i < headers.length; i += 2) if (headers[i]?.toLowerCase() === 'accept-encoding') headers.splice(i, 2);
      headers.push('accept-encoding', 'identity');
    }

    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    let body: Readable | null = null;
    if (hasBody) {
      // Counted as undici pulls it, so no byte is consumed before undici is ready for it.
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytesUp += chunk.length;
          if (!ctx.limiter.addBytes(identity.id, chunk.length)) controller.abort(new Error('byte limit'));
          done(null, chunk);
        },
      });
      req.pipe(counter);
      body = counter;
    }

    const pool = ctx.pools.get({ sandboxId: identity.id, scheme: target.scheme, address: verdict.address, port: target.port, servername: target.hostKind === 'dns' ? target.host : null });
    const relay = await relayResponse(
      pool,
      {
        method: target.method ?? 'GET',
        // The normalised path we matched, not the raw request-target.
        path: `${target.path ?? '/'}${target.search}`,
        headers,
        body,
        signal: controller.signal,
        secrets,
        onBytes: (_direction, n) => {
          bytesDown += n;
          return ctx.limiter.addBytes(identity.id, n);
        },
        onResponseStart: (s) => observeHop(channel.hooks, target, s, 'proxy'),
      },
      res,
    );
    if (relay.ok) status = relay.status;
    else if (relay.beforeHeaders) {
      const code = classifyUpstreamError(relay.error, controller.signal);
      outcome = { code, reason: `${code}: ${relay.error.message}`, result: 'deny' };
      return refuse(verdict, code, code === 'connect_timeout' ? `connecting to ${target.host} timed out` : sandboxReason({ ...verdict, code }));
    } else {
      status = relay.status;
      const code: EgressReasonCode = relay.error.message === 'byte limit' ? 'byte_limit' : classifyUpstreamError(relay.error, controller.signal);
      outcome = { code, reason: `response ended early: ${relay.error.message}`, result: 'allow' };
    }
  } finally {
    clearTimeout(total);
    if (admitted.ok) admitted.release();
    if (verdict !== null) {
      ctx.record(auditRecord({ identity, channel: channel.kind, kind: 'http', verdict, outcome, status, startedAtMs, endedAtMs: Date.now(), bytesToUpstream: bytesUp, bytesFromUpstream: bytesDown, injected }));
    }
  }
}

