/**
 * Wakes the long-polls waiting on an approval when it changes (decided, its run finished).
 * One listener per waiter, removed when it wakes, times out or its client goes away: no
 * timer polls the store, and a waiter that left holds nothing.
 */
export interface ApprovalNotifier {
  /** Resolves when `id` changes, after `ms`, or when `signal` aborts, whichever is first. */
  wait(id: string, ms: number, signal?: AbortSignal): Promise<void>;
  notify(id: string): void;
  /** Waiters right now (stats, tests). */
  readonly waiting: number;
}

export function createApprovalNotifier(): ApprovalNotifier {
  const listeners = new Map<string, Set<() => void>>();
  let waiting = 0;
  return {
    wait(id, ms, signal) {
      if (ms <= 0 || signal?.aborted === true) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', wake);
          const set = listeners.get(id);
          if (set?.delete(wake) === true) waiting--;
          if (set?.size === 0) listeners.delete(id);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        signal?.addEventListener('abort', wake, { once: true });
        let set = listeners.get(id);
        if (set === undefined) listeners.set(id, (set = new Set()));
        set.add(wake);
        waiting++;
      });
    },
    notify(id) {
      for (const wake of [...(listeners.get(id) ?? [])]) wake();
    },
    get waiting() {
      return waiting;
    },
  };
}
