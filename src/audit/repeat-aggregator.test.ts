import { describe, expect, it } from 'vitest';
import type { AuditRecord } from './audit-sink.ts';
import { createRepeatAggregator } from './repeat-aggregator.ts';

let clockMs = 0;
const record = (outcome: string, source: string): AuditRecord => ({
  ts: new Date(clockMs).toISOString(), kind: 'auth', id: `aud_${clockMs}`, requestId: `req_${clockMs}`, agent: null, user: null, tokenId: null,
  tool: null, action: null, resource: null, sandbox: null, decision: null, outcome, durationMs: 1, inputSha256: null, source,
});

function setup(windowMs: number, maxKeys: number) {
  clockMs = 0;
  const written: AuditRecord[] = [];
  const write = (r: AuditRecord) => {
    written.push(r);
    return Promise.resolve();
  };
  const agg = createRepeatAggregator({ write, windowMs, maxKeys, now: () => clockMs });
  return { agg, written };
}

const total = (rs: AuditRecord[]) => rs.reduce((n, r) => n + (r.count ?? 0), 0);

describe('createRepeatAggregator', () => {
  it('writes the first of a key at once and counts the rest until the window closes', () => {
    const { agg, written } = setup(1000, 10);
    agg.append('k', record('BAD', '10.0.0.1'));
    expect(written).toEqual([expect.objectContaining({ count: 1, requestId: 'req_0' })]);
    for (let i = 1; i <= 5; i++) {
      clockMs = i * 100;
      agg.append('k', record('BAD', '10.0.0.1'));
    }
    expect(written).toHaveLength(1);
    // The next append after the window closes writes the count, then starts a new window.
    clockMs = 1000;
    agg.append('k', record('BAD', '10.0.0.1'));
    expect(written).toHaveLength(3);
    expect(written[1]).toMatchObject({ count: 5, firstAt: new Date(100).toISOString(), lastAt: new Date(500).toISOString(), outcome: 'BAD', source: '10.0.0.1', requestId: null });
    expect(written[2]).toMatchObject({ count: 1 });
    agg.close();
    expect(total(written)).toBe(7);
  });

  it('keeps keys apart', () => {
    const { agg, written } = setup(1000, 10);
    for (let i = 0; i < 3; i++) for (const s of ['a', 'b']) agg.append(s, record('BAD', s));
    agg.flush();
    expect(written.filter((r) => r.source === 'a').map((r) => r.count)).toEqual([1, 2]);
    expect(written.filter((r) => r.source === 'b').map((r) => r.count)).toEqual([1, 2]);
  });

  it('bounds its memory: keys past maxKeys share one "other" bucket, and every record is still counted', () => {
    const { agg, written } = setup(1000, 3);
    for (let i = 0; i < 10_000; i++) agg.append(`k${i}`, record(i % 2 === 0 ? 'BAD' : 'WORSE', `10.0.${i >> 8}.${i & 255}`));
    agg.close();
    // 3 keys + the bucket, each written once at first sight; only the bucket has repeats.
    expect(written).toHaveLength(5);
    expect(total(written)).toBe(10_000);
    expect(written.at(-1)).toMatchObject({ source: 'other', outcome: 'mixed', count: 9_996 });
  });

  it('writes every record when windowMs is 0', () => {
    const { agg, written } = setup(0, 3);
    for (let i = 0; i < 5; i++) agg.append('k', record('BAD', 'a'));
    expect(written).toHaveLength(5);
    agg.close();
    expect(written).toHaveLength(5);
  });

  it('writes nothing more on close when nothing was counted', () => {
    const { agg, written } = setup(1000, 3);
    agg.append('k', record('BAD', 'a'));
    agg.close();
    expect(written).toHaveLength(1);
  });

  it('answers the first of a window with its write (a refusal is answered once that record is on disk, or refused itself), the counted ones at once', async () => {
    const writes: AuditRecord[] = [];
    const agg = createRepeatAggregator({
      write: (r) => {
        writes.push(r);
        return Promise.reject(new Error('disk full'));
      },
      windowMs: 1000,
      maxKeys: 3,
      now: () => clockMs,
    });
    clockMs = 0;
    await expect(agg.append('k', record('BAD', 'a'))).rejects.toThrow('disk full');
    // Counted, not written: nothing to wait for.
    await expect(agg.append('k', record('BAD', 'a'))).resolves.toBeUndefined();
    // The summary's failed write, when the window closes, is no unhandled rejection and no throw
    // (the sink is failed, so the calls that follow are refused at their own records).
    expect(() => agg.close()).not.toThrow();
    expect(writes.map((r) => r.count)).toEqual([1, 1]);
  });
});
