import { describe, expect, it } from 'vitest';
import { checkEgress } from './check-egress.ts';
import { parseEgressPolicy } from './parse-egress-policy.ts';
import { parseResolveOption } from './static-resolver.ts';

describe('checkEgress (cordon egress check)', () => {
  const policy = parseEgressPolicy('name: p\nallow:\n  - host: api.example.com\n', 'p.yaml');

  it('prints the decision, reason, rule and pinned address', async () => {
    expect(await checkEgress({ policy, url: 'https://api.example.com/', resolve: { 'api.example.com': ['93.184.216.34'] } })).toEqual({
      decision: 'allow',
      reason: expect.stringContaining('allowed by p.allow[0]'),
      rule: 'p.allow[0]',
      address: '93.184.216.34',
    });
    expect(await checkEgress({ policy, connect: 'api.example.com:443', resolve: { 'api.example.com': ['10.1.1.1'] } })).toMatchObject({ decision: 'deny', address: null });
  });

  it('throws USAGE for bad arguments', async () => {
    await expect(checkEgress({ policy })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(checkEgress({ policy, url: 'https://a/', connect: 'a:1' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(checkEgress({ policy, connect: 'a:1', method: 'GET' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(checkEgress({ policy, url: 'https://a/', resolve: { a: ['nope'] } })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('parses --resolve NAME=IP[,IP...]', () => {
    const t = parseResolveOption('a.test=127.0.0.1,::1');
    parseResolveOption('a.test=127.0.0.2', t);
    expect(t).toEqual({ 'a.test': ['127.0.0.1', '::1', '127.0.0.2'] });
    for (const bad of ['a.test', '=1.2.3.4', 'a.test=', 'a.test=1.2.3']) expect(() => parseResolveOption(bad)).toThrow(/NAME=IP|not an IP/);
  });
});
