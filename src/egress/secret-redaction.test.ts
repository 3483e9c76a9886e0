import { Readable } from 'node:stream';
import { text as readText } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { compileRedaction, createRedactingStream, createSecretRedactor, redact, redactBytes } from './secret-redaction.ts';

// A secret with characters every encoding treats differently: `/`, `+`, `=`, `&`, space, non-ASCII.
const SECRET = 'sk-live/9f8+Ab=c&d é';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const urlSafe = (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_');

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

describe('redaction of encoded spellings (issue 8)', () => {
  const pct = (s: string, upper: boolean) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')[upper ? 'toUpperCase' : 'toLowerCase']();
  it.each([
    ['raw', SECRET],
    ['encodeURIComponent', encodeURIComponent(SECRET)],
    ['form encoding (URLSearchParams)', new URLSearchParams({ v: SECRET }).toString().slice(2)],
    ['every byte percent-encoded, lower case', pct(SECRET, false)],
    ['every byte percent-encoded, upper case', pct(SECRET, true)],
    ['hex, lower case', Buffer.from(SECRET).toString('hex')],
    ['hex, upper case', Buffer.from(SECRET).toString('hex').toUpperCase()],
    ['base64 with padding', b64(SECRET)],
    ['base64 without padding', b64(SECRET).replace(/=+$/, '')],
    ['url-safe base64 with padding', urlSafe(b64(SECRET))],
    ['url-safe base64 without padding', urlSafe(b64(SECRET)).replace(/=+$/, '')],
  ])('%s', (_name, spelling) => {
    const out = redact(`before ${spelling} after`, [SECRET]);
    expect(out).toBe('before [redacted] after');
  });

  // Whatever the user name's length, the secret sits at one of three byte alignments in the base64.
  it.each(['', 'a', 'ab', 'abc', 'user', 'admin', 'x-access-token'])('Basic base64(%j + ":" + secret)', (user) => {
    for (const encode of [(s: string) => s, urlSafe]) {
      const header = `Authorization: Basic ${encode(b64(`${user}:${SECRET}`))}`;
      const out = redact(header, [SECRET]);
      expect(out).toContain('[redacted]');
      expect(decodedRuns(out)).not.toContain(SECRET);
    }
  });

  it('a secret inside a longer base64 stream, at every alignment, with text around it', () => {
    for (let before = 0; before < 6; before++) {
      for (let after = 0; after < 4; after++) {
        const blob = JSON.stringify({ note: 'x'.repeat(before), token: SECRET, tail: 'y'.repeat(after) });
        const out = redact(`data=${b64(blob)};`, [SECRET]);
        expect(decodedRuns(out), `${before}/${after}`).not.toContain(SECRET);
        // Only the secret's own characters go: the text around it is still there.
        expect(out.startsWith('data=ey')).toBe(true);
      }
    }
  });

  it('bytes and streams get the same spellings', async () => {
    const body = Buffer.from(`a ${b64(SECRET)} b ${Buffer.from(SECRET).toString('hex').toUpperCase()} c ${SECRET}`);
    expect(Buffer.from(redactBytes(body, [SECRET])).toString()).toBe('a [redacted] b [redacted] c [redacted]');
    const chunks = [...body].map((b) => Buffer.from([b]));
    expect(await readText(Readable.from(chunks).pipe(createRedactingStream([SECRET])))).toBe('a [redacted] b [redacted] c [redacted]');
  });

  it('overlapping and adjacent spellings become one marker, never a partial secret', () => {
    const out = redact(`${SECRET}${SECRET}${b64(SECRET)}|${SECRET.slice(0, 5)}`, [SECRET]);
    expect(out).toBe(`[redacted]|${SECRET.slice(0, 5)}`);
  });

  it('leaves ordinary text alone, and short secrets get no base64-alignment forms', () => {
    const r = compileRedaction(['abcd']);
    expect(r.text('YWJjZA== abcd 61626364 xyz QUJD')).toBe('[redacted] [redacted] [redacted] xyz QUJD');
    expect(compileRedaction([]).text('anything')).toBe('anything');
  });

  it('hostile inputs: many secrets sharing prefixes, a huge output of near-misses, still exact', () => {
    const secrets = Array.from({ length: 200 }, (_, i) => `tok_${'a'.repeat(20)}${i.toString(36).padStart(3, '0')}`);
    const r = compileRedaction(secrets);
    // Every position starts a near-miss of every secret (the naive scan's worst case).
    const nearMisses = `tok_${'a'.repeat(20)}`.repeat(50_000);
    const huge = `${nearMisses}${secrets[137]}${nearMisses}`;
    const out = r.text(huge);
    expect(out.length).toBe(huge.length - (secrets[137]?.length ?? 0) + '[redacted]'.length);
    expect(out.indexOf('[redacted]')).toBe(nearMisses.length);
  });

  it('the guard redactor learns values and recompiles', () => {
    const g = createSecretRedactor();
    expect(g.redact(b64('later-secret'))).toBe(b64('later-secret'));
    g.remember('later-secret');
    expect(g.redact(b64('later-secret'))).toBe('[redacted]');
  });
});

/** What a reader recovers by decoding every base64-looking run of the output. */
function decodedRuns(text: string): string {
  return (text.match(/[A-Za-z0-9+/_-]{4,}={0,2}/g) ?? []).map((run) => Buffer.from(run.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')).join('\n');
}
