import { describe, expect, it } from 'vitest';
import { createSandboxLimiter } from './proxy-limits.ts';

describe('limits', () => {
  it('refills the request bucket with time', () => {
    let t = 0;
    const l = createSandboxLimiter({ maxConcurrentConnections: 10, maxTotalBytes: 100, maxRequestsPerSecond: 2, requestBurst: 1 }, () => t);
    const first = l.admit('s');
    expect(first.ok).toBe(true);
    expect(l.admit('s')).toMatchObject({ ok: false, code: 'rate_limited' });
    t += 500;
    expect(l.admit('s').ok).toBe(true);
    expect(l.addBytes('s', 101)).toBe(false);
    t += 5000;
    expect(l.admit('s')).toMatchObject({ ok: false, code: 'byte_limit' });
  });
});
