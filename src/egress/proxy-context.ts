import type { Logger } from '../core/logger.ts';
import type { Dialer } from './dialer.ts';
import type { EgressAuditRecord, EgressAuditSink } from './egress-audit.ts';
import type { EgressGuard } from './egress-guard.ts';
import type { EgressHooks } from './egress-hooks.ts';
import type { EgressIdentity } from './egress-identity.ts';
import type { PinnedPools } from './pinned-pool.ts';
import type { SandboxLimiter } from './proxy-limits.ts';

export interface EgressTimeouts {
  /** TCP connect (and TLS handshake) to the pinned address: 504 when exceeded. */
  readonly connectTimeoutMs: number;
  /** No bytes either way for this long ends a request or tunnel. */
  readonly idleTimeoutMs: number;
  /** Hard cap on one request or tunnel. */
  readonly totalTimeoutMs: number;
}

export const DEFAULT_EGRESS_TIMEOUTS: EgressTimeouts = Object.freeze({ connectTimeoutMs: 5_000, idleTimeoutMs: 60_000, totalTimeoutMs: 10 * 60_000 });

/** Everything a request handler needs; built once by createEgressProxy. */
export interface ProxyContext {
  readonly guard: EgressGuard;
  readonly pools: PinnedPools;
  readonly limiter: SandboxLimiter;
  readonly dialer: Dialer;
  readonly timeouts: EgressTimeouts;
  readonly logger: Logger;
  record(entry: EgressAuditRecord): void;
  /** Open tunnel sockets by sandbox, so closing a sandbox's channel ends them. */
  readonly tunnels: Map<string, Set<{ destroy(): void }>>;
}

export function trackTunnel(ctx: ProxyContext, sandboxId: string, socket: { destroy(): void; once(event: 'close', fn: () => void): unknown }): void {
  let set = ctx.tunnels.get(sandboxId);
  if (set === undefined) {
    set = new Set();
    ctx.tunnels.set(sandboxId, set);
  }
  set.add(socket);
  socket.once('close', () => set.delete(socket));
}

/** The channel a request arrived on; the only source of its identity and of the hooks applied to it. */
export interface ChannelRef {
  readonly identity: EgressIdentity;
  readonly kind: 'unix' | 'tcp';
  readonly hooks?: EgressHooks;
}

/** Wraps a sink so that a failing audit write is logged loudly but cannot crash the proxy. */
export function safeRecorder(sink: EgressAuditSink, logger: Logger): (entry: EgressAuditRecord) => void {
  return (entry) => {
    try {
      sink.record(entry);
    } catch (err) {
      logger.error({ err, sandbox: entry.sandbox }, 'egress audit sink failed');
    }
  };
}

/** Request and response headers that belong to one hop, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
]);

/**
 * Copies headers minus hop-by-hop ones, those the Connection header lists, and
 * any name in `drop` (an injected header replaces whatever the sandbox sent).
 */
export function forwardableHeaders(raw: readonly string[], drop: ReadonlySet<string> = new Set()): string[] {
  const listed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() === 'connection') for (const t of (raw[i + 1] ?? '').split(',')) listed.add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (HOP_BY_HOP.has(name) || listed.has(name) || drop.has(name)) continue;
    out.push(raw[i] ?? '', raw[i + 1] ?? '');
  }
  return out;
}
