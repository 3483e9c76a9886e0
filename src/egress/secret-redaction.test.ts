import { Readable } from 'node:stream';
import { text as readText } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { createRedactingStream, redact } from './secret-redaction.ts';

describe('redaction', () => {
  it('removes every known value from text', () => {
    expect(redact('a SECRETX b SECRET c', ['SECRET', 'SECRETX'])).toBe('a [redacted] b [redacted] c');
  });

  it('redacts across chunk boundaries in a stream', async () => {
    const secret = 'abcdefghij';
    const chunks = ['xxabc', 'def', 'ghijyy', 'ab', 'cdefghij'].map((s) => Buffer.from(s));
    const out = await readText(Readable.from(chunks).pipe(createRedactingStream([secret])));
    expect(out).toBe('xx[redacted]yy[redacted]');
  });
});
