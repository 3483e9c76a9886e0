import { createTokenBucket, type TokenBucket } from '../../core/token-bucket.ts';

/**
 * Password guesses are limited per approver name and per source address, so neither one
 * address trying many names nor many addresses trying one name gets far. Buckets are
 * dropped once full again; the table is bounded, and when it is full new keys are refused
 * (fail closed) rather than old ones forgotten.
 */
export interface LoginLimiter {
  /** Takes one attempt for both keys; the wait in seconds when either is used up. */
  take(name: string, source: string): { ok: true } | { ok: false; retryAfterSec: number };
}

export function createLoginLimiter(options: { perMinute: number; burst: number; maxKeys: number; now?: () => number }): LoginLimiter {
  const buckets = new Map<string, TokenBucket>();
  const bucket = (key: string): TokenBucket | undefined => {
    let b = buckets.get(key);
    if (b === undefined) {
      if (buckets.size >= options.maxKeys) for (const [k, old] of buckets) if (old.full()) buckets.delete(k);
      if (buckets.size >= options.maxKeys) return undefined;
      b = createTokenBucket(options.perMinute / 60, options.burst, options.now);
      buckets.set(key, b);
    }
    return b;
  };
  return {
    take(name, source) {
      const byName = bucket(`name\u0000${name}`);
      const bySource = bucket(`source\u0000${source}`);
      if (byName === undefined || bySource === undefined) return { ok: false, retryAfterSec: 60 };
      // Both are charged even when one refuses: a refused guess still counts against the other.
      const a = byName.take();
      const b = bySource.take();
      if (a && b) return { ok: true };
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil(Math.max(byName.retryAfterMs(), bySource.retryAfterMs()) / 1000)) };
    },
  };
}
