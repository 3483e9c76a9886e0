import { describe, expect, it } from 'vitest';
import { checkBatchLine, MAX_BATCH_LINE_CHARS, parseBatchLine } from './check-batch.ts';
import { parseEgressPolicy } from './parse-egress-policy.ts';

describe('parseBatchLine', () => {
  it.each([
    ['https://a.example/x', { request: { url: 'https://a.example/x' }, resolve: null }],
    ['POST https://a.example/x', { request: { url: 'https://a.example/x', method: 'POST' }, resolve: null }],
    ['  GET\thttps://a.example/  --resolve=10.0.0.1,10.0.0.2 ', { request: { url: 'https://a.example/', method: 'GET' }, resolve: ['10.0.0.1', '10.0.0.2'] }],
    ['a.example:443', { request: { connect: 'a.example:443' }, resolve: null }],
    ['CONNECT a.example:22 --resolve=::1', { request: { connect: 'a.example:22' }, resolve: ['::1'] }],
    ['connect [2001:db8::1]:443', { request: { connect: '[2001:db8::1]:443' }, resolve: null }],
  ])('%s', (line, want) => {
    expect(parseBatchLine(line)).toEqual(want);
  });

  it.each([
    ['three words', 'GET POST https://a.example/'],
    ['an unknown option', 'https://a.example/ --method=POST'],
    ['two --resolve', 'https://a.example/ --resolve=1.1.1.1 --resolve=1.1.1.2'],
    ['CONNECT with a URL', 'CONNECT https://a.example/'],
    ['a method with a CONNECT target', 'GET a.example:443'],
    ['only an option', '--resolve=1.1.1.1'],
  ])('refuses %s', (_name, line) => {
    expect(typeof parseBatchLine(line)).toBe('string');
  });
});

describe('checkBatchLine', () => {
  const policy = parseEgressPolicy('name: p\nallow:\n  - host: a.example\nallow_cidrs: [10.0.0.0/8]\n', 'p.yaml');
  const line = (text: string, overLimit = false) => ({ text, overLimit });

  it('skips blank lines and comments', async () => {
    for (const text of ['', '   ', '# a comment', '  # indented']) expect(await checkBatchLine(policy, {}, 1, line(text))).toBeNull();
  });

  it("binds a line's --resolve to its host, canonicalised as the guard sees it", async () => {
    expect(await checkBatchLine(policy, {}, 3, line('GET https://A.Example./ --resolve=10.1.2.3'))).toMatchObject({ line: 3, decision: 'allow', address: '10.1.2.3' });
    // The command's own table still applies to lines without --resolve, and is not changed by one that has it.
    const base = { 'a.example': ['10.9.9.9'] };
    expect(await checkBatchLine(policy, base, 4, line('https://a.example/'))).toMatchObject({ decision: 'allow', address: '10.9.9.9' });
    expect(base).toEqual({ 'a.example': ['10.9.9.9'] });
  });

  it('turns a bad line into an error result, never a throw', async () => {
    expect(await checkBatchLine(policy, {}, 5, line('https://a.example/ --resolve=999.1.1.1'))).toMatchObject({ line: 5, error: { code: 'USAGE', message: expect.stringContaining('not an IP address') } });
    expect(await checkBatchLine(policy, {}, 6, line('https://10.0.0.1/ --resolve=10.0.0.2'))).toMatchObject({ error: { message: expect.stringContaining('is an IP address') } });
    const long = await checkBatchLine(policy, {}, 7, line('x'.repeat(MAX_BATCH_LINE_CHARS), true));
    expect(long).toMatchObject({ error: { message: `line is longer than ${MAX_BATCH_LINE_CHARS} characters` } });
    expect(long?.input.length).toBeLessThanOrEqual(201);
  });

  it('decides an unparseable request as check does: a deny, not a malformed line', async () => {
    expect(await checkBatchLine(policy, {}, 8, line('https://user@a.example/'))).toMatchObject({ decision: 'deny', reason: expect.stringContaining('userinfo') });
  });
});
