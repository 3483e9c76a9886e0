/**
 * A token bucket: `burst` tokens, refilled at `ratePerSec`. One definition for every rate Cordon
 * keeps (a sandbox's egress requests, an agent's calls).
 */
export interface TokenBucket {
  /** Takes a token if one is there. */
  take(): boolean;
  /** How long until the next token, in ms (0 when one is there). */
  retryAfterMs(): number;
  /** True when the bucket is full again: a caller keeping many may drop it. */
  full(): boolean;
}

export function createTokenBucket(ratePerSec: number, burst: number, now: () => number = Date.now): TokenBucket {
  let tokens = burst;
  let refilledAtMs = now();
  const refill = () => {
    const t = now();
    // A clock that steps back must not mint tokens, nor take them.
    if (t > refilledAtMs) tokens = Math.min(burst, tokens + ((t - refilledAtMs) / 1000) * ratePerSec);
    refilledAtMs = t;
  };
  return {
    take() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    retryAfterMs() {
      refill();
      return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / ratePerSec) * 1000);
    },
    full() {
      refill();
      return tokens >= burst;
    },
  };
}
