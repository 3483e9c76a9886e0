import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { parseConnectTarget } from './canonical-host.ts';
import { refusedVerdict, type EgressVerdict } from './egress-decider.ts';
import { authorizeHop, observeHop } from './egress-hooks.ts';
import { dialPinned, DialError } from './dialer.ts';
import type { EgressReasonCode } from './egress-reason.ts';
import { auditRecord, rawResponse, renderRefusal, sandboxReason } from './proxy-response.ts';
import { trackTunnel, type ChannelRef, type ProxyContext } from './proxy-context.ts';
import { parseClientHello, sniMatches } from './tls-client-hello.ts';

/**
 * A CONNECT tunnel. Only host and port are visible here; methods, paths and
 * injection cannot apply inside TLS (TLS inspection is a later issue). What we
 * can still hold the tunnel to: the pinned address, and a ClientHello whose SNI
 * is the host we decided on — so the tunnel cannot be re-aimed at another
 * virtual host on the same address by naming it in SNI. The channel's hooks
 * authorize the tunnel as `CONNECT https://host:port/` before the guard, and
 * observe it (status 200) once the ClientHello checks out, before any byte reaches
 * the upstream.
 */
export async function handleConnect(ctx: ProxyContext, channel: ChannelRef, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
  const startedAtMs = Date.now();
  const identity = channel.identity;
  let status = 0;
  let bytesUp = 0;
  let bytesDown = 0;
  let verdict: EgressVerdict | null = null;
  let outcome: { code: EgressReasonCode; reason: string; result: 'allow' | 'deny' } | undefined;
  let upstream: Socket | null = null;
  client.on('error', () => undefined);
  trackTunnel(ctx, identity.id, client);

  const refuse = (v: EgressVerdict, code: EgressReasonCode = v.code, reason = sandboxReason(v)): void => {
    const r = renderRefusal(code, reason, v.decision.ruleId, v.decision.details);
    status = r.status;
    client.end(rawResponse(r.status, STATUS_CODES[r.status] ?? 'Error', r.headers, r.body));
  };

  const admitted = ctx.limiter.admit(identity.id);
  const total = setTimeout(() => {
    outcome ??= { code: 'upstream_timeout', reason: `tunnel exceeded ${ctx.timeouts.totalTimeoutMs} ms`, result: 'allow' };
    client.destroy();
    upstream?.destroy();
  }, ctx.timeouts.totalTimeoutMs);

  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  try {
    const parsed = parseConnectTarget(req.url ?? '');
    if (!admitted.ok) {
      verdict = refusedVerdict(identity.egressPolicy ?? '', parsed.ok ? parsed.target : null, admitted.code, admitted.reason, 'cordon:limits');
      return refuse(verdict);
    }
    const hooked = parsed.ok ? await authorizeHop(channel.hooks, identity, parsed.target, 0, 'proxy') : null;
    if (hooked !== null) {
      verdict = hooked.verdict;
      outcome = hooked.outcome;
      return refuse(verdict);
    }
    verdict = await ctx.guard.check(identity, parsed.ok ? parsed.target : { connect: req.url ?? '' });
    if (verdict.decision.result !== 'allow' || verdict.address === null || verdict.target === null) return refuse(verdict);
    const target = verdict.target;

    try {
      upstream = await dialPinned(ctx.dialer, verdict.address, target.port, ctx.timeouts.connectTimeoutMs);
    } catch (err) {
      const code: EgressReasonCode = err instanceof DialError ? err.code : 'upstream_failed';
      outcome = { code, reason: (err as Error).message, result: 'deny' };
      return refuse(verdict, code, code === 'connect_timeout' ? `connecting to ${target.host} timed out` : `could not connect to ${target.host}`);
    }
    const up: Socket = upstream;
    up.on('error', () => undefined);
    trackTunnel(ctx, identity.id, up);
    if (client.destroyed) {
      up.destroy();
      outcome = { code: 'upstream_failed', reason: 'client went away while connecting', result: 'allow' };
      return;
    }
    status = 200;
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');

    const hello = await readClientHello(client, head, ctx.timeouts.idleTimeoutMs);
    if (hello.error !== null || !sniMatches(hello.serverName, target.host, target.hostKind)) {
      const why = hello.error ?? (hello.serverName === null ? 'the ClientHello has no SNI' : `SNI "${hello.serverName}" is not ${target.host}`);
      outcome = { code: 'sni_mismatch', reason: `CONNECT ${target.host}:${target.port}: ${why}`, result: 'deny' };
      status = 403;
      client.destroy();
      up.destroy();
      return;
    }

    observeHop(channel.hooks, target, 200, 'proxy');
    const count = (dir: 'up' | 'down') => (chunk: Buffer) => {
      if (dir === 'up') bytesUp += chunk.length;
      else bytesDown += chunk.length;
      if (!ctx.limiter.addBytes(identity.id, chunk.length)) {
        outcome = { code: 'byte_limit', reason: 'egress byte budget used up', result: 'allow' };
        client.destroy();
        up.destroy();
      }
    };
    bytesUp += hello.buffered.length;
    ctx.limiter.addBytes(identity.id, hello.buffered.length);
    up.write(hello.buffered);
    client.on('data', count('up'));
    up.on('data', count('down'));
    client.pipe(up);
    up.pipe(client);
    const idle = (): void => {
      outcome ??= { code: 'upstream_timeout', reason: `tunnel idle for ${ctx.timeouts.idleTimeoutMs} ms`, result: 'allow' };
      client.destroy();
      up.destroy();
    };
    (client as Socket).setTimeout?.(ctx.timeouts.idleTimeoutMs, idle);
    up.setTimeout(ctx.timeouts.idleTimeoutMs, idle);
    let open = 2;
    const closed = (): void => {
      // Half-closes travel through pipe(); 'close' means that side is completely
      // done, so nothing more can flow and the other side goes too.
      if (--open === 0) finished();
      else {
        client.destroy();
        up.destroy();
      }
    };
    client.once('close', closed);
    up.once('close', closed);
    await done;
  } finally {
    clearTimeout(total);
    if (admitted.ok) admitted.release();
    if (verdict !== null) {
      ctx.record(auditRecord({ identity, channel: channel.kind, kind: 'connect', verdict, outcome, status, startedAtMs, endedAtMs: Date.now(), bytesToUpstream: bytesUp, bytesFromUpstream: bytesDown, injected: [] }));
    }
  }
}

interface Hello {
  readonly serverName: string | null;
  readonly error: string | null;
  readonly buffered: Buffer;
}

/** Reads until a complete ClientHello is buffered (or it is clearly not one). */
function readClientHello(client: Duplex, head: Buffer, timeoutMs: number): Promise<Hello> {
  return new Promise((resolve) => {
    let buffered = head;
    let settled = false;
    const finish = (h: Hello): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.off('data', onData);
      client.off('close', onClose);
      client.pause();
      resolve(h);
    };
    const check = (): void => {
      if (buffered.length === 0) return;
      const r = parseClientHello(buffered);
      if (r.status === 'ok') finish({ serverName: r.serverName, error: null, buffered });
      else if (r.status === 'invalid') finish({ serverName: null, error: r.reason, buffered });
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      check();
    };
    const onClose = (): void => finish({ serverName: null, error: 'the client closed before sending a ClientHello', buffered });
    const timer = setTimeout(() => finish({ serverName: null, error: `no ClientHello within ${timeoutMs} ms`, buffered }), timeoutMs);
    client.on('data', onData);
    client.once('close', onClose);
    check();
  });
}
