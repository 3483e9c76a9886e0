import { CordonError } from '../core/errors.ts';

export interface ConcurrencyLimiter {
  /** Runs `task` when a slot is free; refuses with RATE_LIMITED when the queue is full. */
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly queued: number;
}

/**
 * At most `maxActive` tasks at once and `maxQueued` waiting, first come first
 * served. Refusing early (429) beats letting latency grow without bound.
 */
export function createConcurrencyLimiter(maxActive: number, maxQueued: number): ConcurrencyLimiter {
  let active = 0;
  const waiting: (() => void)[] = [];

  const release = () => {
    const next = waiting.shift();
    if (next === undefined) active--;
    else next();
  };

  return {
    get active() {
      return active;
    },
    get queued() {
      return waiting.length;
    },
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < maxActive) {
        active++;
      } else {
        if (waiting.length >= maxQueued) {
          throw new CordonError('RATE_LIMITED', `too many calls in flight (${maxActive} running, ${maxQueued} queued); retry later`, {
            details: { active, queued: waiting.length, retryAfterSec: 1 },
          });
        }
        // The slot is handed over by release(), so `active` stays counted.
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
