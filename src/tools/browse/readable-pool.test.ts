import { describe, expect, it } from 'vitest';
import { readablePage } from './readable-page.ts';
import { createReadablePool } from './readable-pool.ts';

const pool = createReadablePool(1);
const PAGE = '<html><head><title>T</title></head><body><article><p>Hello <a href="/x">there</a>, reader.</p></article></body></html>';
const CAPS = { maxTextChars: 10_000, maxLinks: 10 };
/** Deep, wide markup: seconds of parsing and scoring on the main thread if it ran there. */
const HOSTILE = `<html><body>${'<div><p>word '.repeat(40_000)}</body></html>`;

describe('the readable pool', () => {
  it('reads a page exactly as readablePage does, in a worker', async () => {
    expect(await pool.read(PAGE, 'http://docs.test/', CAPS, 30_000)).toEqual(readablePage(PAGE, 'http://docs.test/', CAPS));
  });

  it('keeps the event loop free while a hostile page is read, and a page over its time fails alone', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const slow = await pool.read(HOSTILE, 'http://docs.test/', CAPS, 60_000).then(() => 'read', (err: { code?: string }) => err.code);
    clearInterval(ticker);
    expect(slow).toBe('read');
    // Had the parse run on this thread, the interval could not have fired while it ran.
    expect(ticks).toBeGreaterThan(0);
    const cut = await pool.read(HOSTILE, 'http://docs.test/', CAPS, 20).then(() => 'read', (err: { code?: string; message: string }) => [err.code, err.message]);
    expect(cut).toEqual(['BROWSE_CONTENT_UNSUPPORTED', expect.stringContaining('took more than 20 ms')]);
    // The overrunning worker was replaced: the next page reads.
    expect((await pool.read(PAGE, 'http://docs.test/', CAPS, 30_000)).title).toBe('T');
  }, 120_000);
});
