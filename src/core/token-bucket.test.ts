import { describe, expect, it } from 'vitest';
import { createTokenBucket } from './token-bucket.ts';

describe('token bucket', () => {
  it('gives the burst at once, then refills at the rate, never above the burst', () => {
    let t = 0;
    const b = createTokenBucket(10, 3, () => t);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.retryAfterMs()).toBe(100);
    t += 100;
    expect([b.take(), b.take()]).toEqual([true, false]);
    t += 60_000;
    expect(b.full()).toBe(true);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
  });

  it('mints nothing when the clock steps back, and loses nothing', () => {
    let t = 10_000;
    const b = createTokenBucket(1, 1, () => t);
    expect(b.take()).toBe(true);
    t = 0;
    expect(b.take()).toBe(false);
    t = 1000;
    expect(b.take()).toBe(true);
  });
});
