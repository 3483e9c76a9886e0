import { describe, expect, it } from 'vitest';
import { createRedactingDestination } from '../core/logger.ts';
import { createRedactor } from './redaction.ts';

describe('redaction', () => {
  const r = createRedactor(['sk-live-123456', 'sk-live-123456-extended', 'abc']);

  it('masks every known secret in text, longest first', () => {
    expect(r.text('a sk-live-123456-extended b sk-live-123456 c')).toBe('a [redacted] b [redacted] c');
  });

  it('masks strings deep inside values, keys included', () => {
    expect(r.value({ out: ['x sk-live-123456'], 'sk-live-123456': 1 })).toEqual({ out: ['x [redacted]'], '[redacted]': 1 });
  });

  it('masks base64, hex and URL-encoded spellings of a secret too (issue 8)', () => {
    const secret = 'sk-live-123456';
    const out = r.value({ basic: `Basic ${Buffer.from(`me:${secret}`).toString('base64')}`, hex: Buffer.from(secret).toString('hex').toUpperCase(), url: `?t=${encodeURIComponent(secret)}&b=${Buffer.from(secret).toString('base64url')}` });
    expect(JSON.stringify(out)).not.toMatch(/c2stbGl2ZS0xMjM0NTY|736B2D6C6976652D313233343536/i);
    expect(out.hex).toBe('[redacted]');
    expect(out.url).toBe('?t=[redacted]&b=[redacted]');
    expect(out.basic).toMatch(/^Basic bWU6\[redacted\]/);
  });

  it('ignores values too short to be secrets rather than masking every "abc"', () => {
    expect(r.text('abc')).toBe('abc');
  });

  it('without secrets, leaves ordinary data as it is and still removes what is shaped like a credential', () => {
    const none = createRedactor([]);
    expect(none.value({ a: 'b', n: 1, list: ['x'] })).toEqual({ a: 'b', n: 1, list: ['x'] });
    expect(none.text('key AKIAIOSFODNN7EXAMPLE here')).toBe('key [REDACTED aws-access-key-id] here');
  });

  it('redacts log lines once the redaction is set', async () => {
    let written = '';
    const sink = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WritableStream;
    const dest = createRedactingDestination(sink);
    dest.setRedaction(r.text);
    await new Promise<void>((done) => dest.write('{"msg":"token sk-live-123456"}\n', () => done()));
    expect(written).toBe('{"msg":"token [redacted]"}\n');
  });
});
