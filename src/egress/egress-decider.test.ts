import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEgressPolicy } from './parse-egress-policy.ts';
import { decide } from './egress-decider.ts';
import { listTestFiles, loadEgressPolicies } from './load-egress-policies.ts';
import { loadEgressTestCases, runEgressTestCase, runEgressTests } from './run-egress-tests.ts';
import type { Resolver } from './resolver.ts';

const DIR = resolve(import.meta.dirname, '../../testdata/egress/decisions');
const policies = loadEgressPolicies(DIR);

describe('egress decisions (testdata/egress/decisions/*.test.yaml)', () => {
  for (const file of listTestFiles(DIR)) {
    const cases = loadEgressTestCases(file);
    describe(file.slice(DIR.length + 1), () => {
      it.each(cases.map((c) => [`${c.line}: ${c.name}`, c] as const))('%s', async (_, c) => {
        const result = await runEgressTestCase(c, policies);
        expect(result.failures, JSON.stringify(result.actual)).toEqual([]);
      });
    });
  }
});

describe('decide', () => {
  const policy = parseEgressPolicy('name: p\nallow:\n  - host: a.test\nallow_cidrs: [127.0.0.0/8]\n', 'p.yaml');

  it('resolves once per decision and pins an answer it checked', async () => {
    let calls = 0;
    const resolver: Resolver = { resolve: () => Promise.resolve(++calls === 1 ? ['127.0.0.2'] : ['169.254.169.254']) };
    const first = await decide(policy, { url: 'http://a.test/' }, resolver);
    expect(first.address).toBe('127.0.0.2');
    expect(calls).toBe(1);
    const second = await decide(policy, { url: 'http://a.test/' }, resolver);
    expect(second.decision.result).toBe('deny');
    expect(second.address).toBeNull();
  });

  it('does not resolve names it refuses', async () => {
    let calls = 0;
    const resolver: Resolver = { resolve: () => Promise.resolve([String(++calls)]) };
    for (const url of ['http://localhost/', 'http://metadata.google.internal/', 'http://b.test/', 'http://user@a.test/']) {
      expect((await decide(policy, { url }, resolver)).decision.result).toBe('deny');
    }
    expect(calls).toBe(0);
  });

  it('turns a resolver failure into a deny, never a throw', async () => {
    const resolver: Resolver = { resolve: () => Promise.reject(new Error('SERVFAIL')) };
    const v = await decide(policy, { url: 'http://a.test/' }, resolver);
    expect([v.decision.result, v.code]).toEqual(['deny', 'resolution_failed']);
    expect(v.decision.reason).toContain('SERVFAIL');
  });

  it('drops answers that are not addresses', async () => {
    const resolver: Resolver = { resolve: () => Promise.resolve(['evil.example', '127.0.0.9']) };
    const v = await decide(policy, { url: 'http://a.test/' }, resolver);
    expect(v.address).toBe('127.0.0.9');
    expect(v.dropped).toEqual([{ address: 'evil.example', reason: 'not an IP address' }]);
  });
});

describe('runEgressTests', () => {
  it('passes over testdata and prints a table', async () => {
    const report = await runEgressTests(DIR);
    expect(report.failed, report.table).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.table).toMatch(/PASS\s+github\.test\.yaml:\d+/);
  });
});

describe('egress test files refuse what they would not read', () => {
  it('refuses an unknown top-level key (a misspelt resolve table) with the file and line, and loads the listed ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-egress-tests-'));
    try {
      const file = join(dir, 'p.test.yaml');
      writeFileSync(file, 'policy: p\nresolv:\n  a.test: 127.0.0.2\ncases:\n  - url: http://a.test/\n    expect: allow\n');
      expect(() => loadEgressTestCases(file)).toThrow(/p\.test\.yaml:1: unknown key "resolv" \(a test file has policy, resolve, cases\)/);
      writeFileSync(file, 'policy: p\nresolve:\n  a.test: 127.0.0.2\ncases:\n  - url: http://a.test/\n    expect: allow\n');
      expect(loadEgressTestCases(file)).toMatchObject([{ policy: 'p', resolve: { 'a.test': ['127.0.0.2'] } }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
