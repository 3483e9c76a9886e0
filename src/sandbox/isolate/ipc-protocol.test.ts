import { describe, expect, it } from 'vitest';
import { checkFetchRequest, parseHostMessage } from './ipc-protocol.ts';

// A host runs hostile code: whatever it sends is checked before the runner uses it.
const CAPS = { outputBytes: 100, resultBytes: 50, requestBytes: 1000 };
const result = (r: Record<string, unknown>) => ({ t: 'result', call: 1, sessionEnded: false, result: { status: 'ok', stdout: '', stderr: '', truncated: false, durationMs: 1, ...r } });

describe('parseHostMessage', () => {
  it.each([
    ['null', null],
    ['a string', 'ready'],
    ['an unknown type', { t: 'exec', call: 1 }],
    ['a negative call id', { t: 'opened', call: -1, error: null }],
    ['a fractional call id', { t: 'opened', call: 1.5, error: null }],
    ['a call id past 2^53', { t: 'opened', call: 2 ** 60, error: null }],
    ['an unknown status', result({ status: 'pwned' })],
    ['a value that is not text', result({ value: { a: 1 } })],
    ['a value that is not JSON', result({ value: '{nope' })],
    ['a value over the result cap', result({ value: JSON.stringify('x'.repeat(60)) })],
    ['a fetch with a bad method', { t: 'fetch', call: 1, fetch: 1, request: { url: 'http://a.test/', method: 'GE T', headers: [], body: null } }],
    ['a fetch body over the cap', { t: 'fetch', call: 1, fetch: 1, request: { url: 'http://a.test/', method: 'POST', headers: [], body: 'x'.repeat(1001) } }],
  ])('refuses %s', (_name, raw) => {
    expect(parseHostMessage(raw, CAPS)).toBeNull();
  });

  it('caps output, error fields and durations whatever the host claims', () => {
    const m = parseHostMessage(result({ status: 'error', stdout: 'o'.repeat(500), stderr: 'e'.repeat(500), error: { name: 'N'.repeat(1000), message: 'm'.repeat(100_000), line: -3, column: 'x' }, durationMs: Number.NaN }), CAPS);
    expect(m?.t).toBe('result');
    if (m?.t !== 'result') return;
    expect(Buffer.byteLength(m.result.stdout) + Buffer.byteLength(m.result.stderr)).toBeLessThanOrEqual(100);
    expect(m.result.truncated).toBe(true);
    expect(m.result.error?.name.length).toBeLessThanOrEqual(129);
    expect(m.result.error?.message.length).toBeLessThanOrEqual(4097);
    expect(m.result.error).not.toHaveProperty('line');
    expect(m.result.error).not.toHaveProperty('column');
    expect(m.result.durationMs).toBe(0);
  });

  it('parses the value from JSON text within the cap', () => {
    const m = parseHostMessage(result({ value: '{"a":[1,2]}' }), CAPS);
    expect(m).toMatchObject({ t: 'result', result: { status: 'ok', value: { a: [1, 2] } } });
  });
});

describe('checkFetchRequest', () => {
  const ok = { url: 'http://a.test/', method: 'GET', headers: [['accept', 'x']], body: null };
  it.each([
    ['an empty url', { ...ok, url: '' }, /url/],
    ['a 20 kB url', { ...ok, url: 'http://a.test/' + 'a'.repeat(20_000) }, /url/],
    ['a lower-case method', { ...ok, method: 'get' }, /method/],
    ['300 headers', { ...ok, headers: Array.from({ length: 300 }, () => ['a', 'b']) }, /headers/],
    ['70 kB of headers', { ...ok, headers: [['a', 'b'.repeat(70_000)]] }, /headers/],
    ['a header that is not a pair of strings', { ...ok, headers: [['a', 1]] }, /name\/value/],
    ['an object body', { ...ok, body: { a: 1 } }, /body/],
  ])('refuses %s with a reason', (_name, raw, reason) => {
    const r = checkFetchRequest(raw, 1000);
    expect(typeof r).toBe('string');
    expect(r).toMatch(reason);
  });

  it('passes a well-formed request through, defaulting redirect to follow', () => {
    expect(checkFetchRequest(ok, 1000)).toEqual({ ...ok, redirect: 'follow' });
  });
});
