import type { PolicyDecision } from './policy-decision.ts';

/**
 * A bounded LRU of decisions. The key is the policy-set version plus the full
 * canonical request (principals with attributes and groups, action, resource,
 * session facts, sandbox, annotations): two calls share an entry only when
 * every input to the decision is equal, so a cached answer is always the
 * answer the engine would compute. No wall-clock time is part of any input,
 * so entries never go stale by themselves; a new policy set has a new version.
 */
export interface DecisionCache {
  get(key: string): PolicyDecision | undefined;
  set(key: string, decision: PolicyDecision): void;
  clear(): void;
  stats(): { hits: number; misses: number; size: number; maxEntries: number };
}

export function createDecisionCache(options: { maxEntries?: number } = {}): DecisionCache {
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, PolicyDecision>();
  let hits = 0;
  let misses = 0;
  return {
    get(key) {
      const hit = entries.get(key);
      if (hit === undefined) {
        misses++;
        return undefined;
      }
      hits++;
      entries.delete(key);
      entries.set(key, hit);
      return hit;
    },
    set(key, decision) {
      if (maxEntries <= 0) return;
      entries.delete(key);
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      entries.set(key, decision);
    },
    clear() {
      entries.clear();
    },
    stats: () => ({ hits, misses, size: entries.size, maxEntries }),
  };
}
