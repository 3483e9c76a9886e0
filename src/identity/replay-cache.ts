export interface ReplayCache {
  /** True the first time a key is seen while unexpired; false for every reuse. */
  firstUse(key: string, expiresAtSec: number): boolean;
  readonly size: number;
}

/**
 * Remembers single-use token ids until they expire. Bounded: when full of
 * unexpired ids it refuses new ones rather than forgetting old ones, because a
 * forgotten unexpired id could be replayed. One process only; replicas will
 * share it through the state store.
 */
export function createReplayCache(maxEntries: number, nowSec: () => number = () => Date.now() / 1000): ReplayCache {
  const seen = new Map<string, number>();
  let lastSweep = 0;
  const sweep = () => {
    const now = nowSec();
    if (now - lastSweep < 1 && seen.size < maxEntries) return;
    lastSweep = now;
    for (const [key, exp] of seen) if (exp < now) seen.delete(key);
  };
  return {
    get size() {
      return seen.size;
    },
    firstUse(key, expiresAtSec) {
      sweep();
      const prior = seen.get(key);
      if (prior !== undefined && prior >= nowSec()) return false;
      if (seen.size >= maxEntries) return false;
      seen.set(key, expiresAtSec);
      return true;
    },
  };
}
