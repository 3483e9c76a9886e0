import { describe, expect, it } from 'vitest';
import { createSandboxLimiter } from './proxy-limits.ts';

describe('limits', () => {
  it('refills the request bucket with time', () => {
    let t = 0;
    const l = createSandboxLimiter({ maxRequests: 100, maxConcurrentConnections: 10, maxTotalBytes: 100, maxRequestsPerSecond: 2, requestBurst: 1 }, () => t);
    const first = l.admit('s');
    expect(first.ok).toBe(true);
    expect(l.admit('s')).toMatchObject({ ok: false, code: 'rate_limited' });
    t += 500;
    expect(l.admit('s').ok).toBe(true);
    expect(l.addBytes('s', 101)).toBe(false);
    t += 5000;
    expect(l.admit('s')).toMatchObject({ ok: false, code: 'byte_limit' });
  });

  it('caps the requests a sandbox makes over its lifetime, whatever the rate allows', () => {
    const l = createSandboxLimiter({ maxRequests: 3, maxConcurrentConnections: 10, maxTotalBytes: 100, maxRequestsPerSecond: 1000, requestBurst: 1000 });
    for (let i = 0; i < 3; i++) {
      const a = l.admit('s');
      expect(a.ok).toBe(true);
      if (a.ok) a.release();
    }
    expect(l.admit('s')).toMatchObject({ ok: false, code: 'request_limit' });
    expect(l.usage('s').requests).toBe(3);
    expect(l.admit('other').ok).toBe(true);
  });
});
