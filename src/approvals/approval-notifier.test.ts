import { describe, expect, it } from 'vitest';
import { createApprovalNotifier } from './approval-notifier.ts';

describe('approval notifier', () => {
  it('wakes every waiter of an approval on notify, and only those', async () => {
    const n = createApprovalNotifier();
    const woken: string[] = [];
    const a1 = n.wait('a', 60_000).then(() => woken.push('a1'));
    const a2 = n.wait('a', 60_000).then(() => woken.push('a2'));
    const b = n.wait('b', 60_000).then(() => woken.push('b'));
    expect(n.waiting).toBe(3);
    n.notify('a');
    await Promise.all([a1, a2]);
    expect(woken.sort()).toEqual(['a1', 'a2']);
    expect(n.waiting).toBe(1);
    n.notify('b');
    await b;
    expect(n.waiting).toBe(0);
  });

  it('lets go of a waiter whose time is up or whose client left, holding nothing', async () => {
    const n = createApprovalNotifier();
    await n.wait('a', 1);
    const gone = new AbortController();
    const left = n.wait('a', 60_000, gone.signal);
    expect(n.waiting).toBe(1);
    gone.abort();
    await left;
    expect(n.waiting).toBe(0);
    // Already aborted, or no time: returns at once without registering.
    await n.wait('a', 60_000, gone.signal);
    await n.wait('a', 0);
    expect(n.waiting).toBe(0);
  });
});
