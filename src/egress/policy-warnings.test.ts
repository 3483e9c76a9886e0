import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileEgressPolicy } from './parse-egress-policy.ts';

interface Case {
  name: string;
  policy: string;
  warnings: Array<[number, string]>;
}

const cases = parse(readFileSync(resolve(import.meta.dirname, '../../testdata/egress/policy-warnings.yaml'), 'utf8')) as Case[];

describe('egress policy warnings (testdata/egress/policy-warnings.yaml)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const result = compileEgressPolicy(c.policy, 'p.yaml');
    // A warning never stops a policy from loading.
    expect('policy' in result, JSON.stringify(result)).toBe(true);
    if (!('policy' in result)) return;
    expect(result.policy.warnings.map((w) => w.line)).toEqual(c.warnings.map(([line]) => line));
    c.warnings.forEach(([, text], i) => {
      expect(result.policy.warnings[i]?.reason).toContain(text);
      expect(result.policy.warnings[i]?.reason).toMatch(/^warning: /);
      expect(result.policy.warnings[i]?.file).toBe('p.yaml');
    });
  });
});
