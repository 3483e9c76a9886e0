import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLines } from './read-lines.ts';

async function lines(chunks: string[], maxChars: number) {
  const out = [];
  for await (const l of readLines(Readable.from(chunks.map((c) => Buffer.from(c))), maxChars)) out.push(l);
  return out;
}

describe('readLines', () => {
  it('splits across chunks, drops \\r, keeps a last line without a break', async () => {
    expect(await lines(['ab', 'c\r\nd', 'e\n\nf'], 10)).toEqual([
      { text: 'abc', overLimit: false },
      { text: 'de', overLimit: false },
      { text: '', overLimit: false },
      { text: 'f', overLimit: false },
    ]);
  });

  it('keeps a multi-byte character split between chunks whole', async () => {
    const bytes = Buffer.from('é\n');
    const out = [];
    for await (const l of readLines(Readable.from([bytes.subarray(0, 1), bytes.subarray(1)]), 10)) out.push(l);
    expect(out).toEqual([{ text: 'é', overLimit: false }]);
  });

  it('flags a line over the cap and keeps only its beginning, however long it runs', async () => {
    const huge = Array.from({ length: 64 }, () => 'x'.repeat(64 * 1024));
    const out = await lines(['ok\n', ...huge, '\nnext\n'], 8);
    expect(out).toEqual([
      { text: 'ok', overLimit: false },
      { text: 'xxxxxxxx', overLimit: true },
      { text: 'next', overLimit: false },
    ]);
    expect(await lines(['12345678\r\n123456789\n'], 8)).toEqual([
      { text: '12345678', overLimit: false },
      { text: '12345678', overLimit: true },
    ]);
  });
});
