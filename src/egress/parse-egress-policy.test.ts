import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isCordonError } from '../core/errors.ts';
import { compileEgressPolicy, parseEgressPolicy } from './parse-egress-policy.ts';

interface Case {
  name: string;
  policy: string;
  line: number;
  reason: string;
}

const invalid = parse(readFileSync(resolve(import.meta.dirname, '../../testdata/egress/invalid-policies.yaml'), 'utf8')) as Case[];

describe('egress policy validation', () => {
  it.each(invalid.map((c) => [c.name, c] as const))('refuses: %s', (_, c) => {
    const result = compileEgressPolicy(c.policy, 'p.yaml');
    expect('problems' in result, 'policy was accepted').toBe(true);
    if (!('problems' in result)) return;
    const hit = result.problems.find((p) => p.reason.includes(c.reason));
    expect(hit, `no problem mentions "${c.reason}": ${JSON.stringify(result.problems)}`).toBeDefined();
    expect(hit?.line).toBe(c.line);
    expect(hit?.file).toBe('p.yaml');
  });

  it('throws CONFIG_INVALID naming file, line and reason', () => {
    try {
      parseEgressPolicy('name: p\nallow:\n  - host: "*"\n', 'egress-policies/p.yaml');
      expect.unreachable();
    } catch (err) {
      expect(isCordonError(err) && err.code).toBe('CONFIG_INVALID');
      expect((err as Error).message).toContain('egress-policies/p.yaml:3: a bare "*"');
      expect((err as { details: { problems: unknown[] } }).details.problems).toHaveLength(1);
    }
  });

  it('reports every problem in a file, not just the first', () => {
    const result = compileEgressPolicy('name: p\nallow:\n  - host: "*"\n  - host: "*.com"\ndeny_cidrs: [nope]\n', 'p.yaml');
    expect('problems' in result && result.problems.map((p) => p.line)).toEqual([3, 4, 5]);
  });

  it('compiles the example from the issue', () => {
    const policy = parseEgressPolicy(readFileSync(resolve(import.meta.dirname, '../../egress-policies/github.yaml'), 'utf8'), 'github.yaml');
    expect(policy.name).toBe('github');
    expect(policy.mode).toBe('enforce');
    const shorthand = policy.allow.find((r) => r.host.kind === 'exact' && r.host.host === 'api.example.com');
    expect(shorthand?.ports).toEqual([8443]);
    const inject = policy.allow.find((r) => r.inject !== null);
    expect(inject?.inject?.header).toBe('authorization');
    expect(inject?.inject?.value.secretNames).toEqual(['GITHUB_TOKEN']);
    expect(inject?.methods).toEqual(['GET']);
  });

  it('canonicalises hosts written in policies the same way as requests', () => {
    const policy = parseEgressPolicy('name: p\nallow:\n  - host: API.Example.COM.\n  - host: "[::ffff:10.0.0.1]:8443"\n  - host: 0x7f.1\n', 'p.yaml');
    expect(policy.allow.map((r) => (r.host.kind === 'exact' ? r.host.host : r.host.suffix))).toEqual(['api.example.com', '10.0.0.1', '127.0.0.1']);
  });

  it('gives rules stable ids and source lines', () => {
    const policy = parseEgressPolicy('name: p\nallow:\n  - host: a.example\n  - host: b.example\ndeny:\n  - host: c.example\n', 'p.yaml');
    expect(policy.allow.map((r) => [r.id, r.source.line])).toEqual([
      ['p.allow[0]', 3],
      ['p.allow[1]', 4],
    ]);
    expect(policy.deny[0]?.id).toBe('p.deny[0]');
  });
});
