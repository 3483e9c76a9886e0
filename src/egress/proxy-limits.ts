import { createTokenBucket, type TokenBucket } from '../core/token-bucket.ts';
import type { EgressReasonCode } from './egress-reason.ts';

/**
 * Per-sandbox limits on egress, one limiter for every channel (the proxy's unix socket and
 * TCP channels, and an isolate's fetch). Exceeding one answers 429 through the proxy (or
 * closes a running transfer) and rejects an isolate's fetch.
 */
export interface EgressLimits {
  /** Upstream requests and tunnels (each redirect hop counts) over the sandbox's lifetime. */
  readonly maxRequests: number;
  /** Upstream requests and tunnels open at once. */
  readonly maxConcurrentConnections: number;
  /** Bytes both ways over the sandbox's lifetime. */
  readonly maxTotalBytes: number;
  /** Sustained request rate (token bucket refill). */
  readonly maxRequestsPerSecond: number;
  /** Bucket size: requests allowed in a burst. */
  readonly requestBurst: number;
}

export const DEFAULT_EGRESS_LIMITS: EgressLimits = Object.freeze({
  maxRequests: 1000,
  maxConcurrentConnections: 64,
  maxTotalBytes: 4 * 1024 ** 3,
  maxRequestsPerSecond: 50,
  requestBurst: 200,
});

export interface SandboxLimiter {
  /** Takes a request token and a connection slot, or says which limit refused. */
  admit(sandboxId: string): { ok: true; release: () => void } | { ok: false; code: EgressReasonCode; reason: string };
  /** Counts bytes; false once the budget is used up (the caller ends the transfer). */
  addBytes(sandboxId: string, bytes: number): boolean;
  forget(sandboxId: string): void;
  usage(sandboxId: string): { requests: number; connections: number; bytes: number };
}

interface State {
  requests: number;
  connections: number;
  bytes: number;
  rate: TokenBucket;
}

export function createSandboxLimiter(limits: EgressLimits, now: () => number = Date.now): SandboxLimiter {
  const states = new Map<string, State>();
  const state = (id: string): State => {
    let s = states.get(id);
    if (s === undefined) {
      s = { requests: 0, connections: 0, bytes: 0, rate: createTokenBucket(limits.maxRequestsPerSecond, limits.requestBurst, now) };
      states.set(id, s);
    }
    return s;
  };
  return {
    admit(id) {
      const s = state(id);
      if (s.bytes >= limits.maxTotalBytes) return { ok: false, code: 'byte_limit', reason: `sandbox ${id} used its ${limits.maxTotalBytes}-byte egress budget` };
      // A lifetime cap besides the rate: one call must not make thousands of upstream requests.
      if (s.requests >= limits.maxRequests) return { ok: false, code: 'request_limit', reason: `sandbox ${id} made ${s.requests} egress requests, its limit (egress.sandboxLimits.maxRequests ${limits.maxRequests})` };
      if (s.connections >= limits.maxConcurrentConnections) {
        return { ok: false, code: 'connection_limit', reason: `sandbox ${id} has ${s.connections} egress connections open (limit ${limits.maxConcurrentConnections})` };
      }
      if (!s.rate.take()) return { ok: false, code: 'rate_limited', reason: `sandbox ${id} exceeded ${limits.maxRequestsPerSecond} requests/s` };
      s.requests += 1;
      s.connections += 1;
      let released = false;
      return {
        ok: true,
        release: () => {
          if (released) return;
          released = true;
          s.connections -= 1;
        },
      };
    },
    addBytes(id, bytes) {
      const s = state(id);
      s.bytes += bytes;
      return s.bytes <= limits.maxTotalBytes;
    },
    forget: (id) => void states.delete(id),
    usage: (id) => ({ requests: states.get(id)?.requests ?? 0, connections: states.get(id)?.connections ?? 0, bytes: states.get(id)?.bytes ?? 0 }),
  };
}
