import { describe, expect, it } from 'vitest';
import { createLoopbackOnlyDialer, dialPinned, type Dialer } from './dialer.ts';

describe('dialing', () => {
  it('the test dialer refuses anything but loopback without touching the network', async () => {
    const d = createLoopbackOnlyDialer({ dial: () => Promise.reject(new Error('inner dialer must not be called')) });
    for (const addr of ['8.8.8.8', '10.0.0.1', '2606:4700::1111', '169.254.169.254']) {
      await expect(d.dial(addr, 443, new AbortController().signal)).rejects.toThrow(/loopback only/);
    }
    expect(d.refused).toHaveLength(4);
  });

  it('gives up on a dialer that never answers, with connect_timeout', async () => {
    const never: Dialer = { dial: () => new Promise(() => undefined) };
    await expect(dialPinned(never, '127.0.0.1', 1, 20)).rejects.toMatchObject({ code: 'connect_timeout' });
  });
});
