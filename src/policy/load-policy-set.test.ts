import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CordonError } from '../core/errors.ts';
import { compilePolicySet, loadPolicySet, SCHEMA_FILE, validatePolicies } from './load-policy-set.ts';
import type { PolicyProblem } from './policy-set.ts';
import { createTempPolicyDir, POLICY_TESTDATA, SHIPPED_POLICIES, SHIPPED_SCHEMA } from './test-fixtures.ts';

interface InvalidCase {
  name: string;
  schema?: string;
  files: Record<string, string>;
  error: { file: string; line?: number; reason: string };
}

const invalid = (parse(readFileSync(join(POLICY_TESTDATA, 'invalid-policies.yaml'), 'utf8')) as { cases: InvalidCase[] }).cases;

function compileError(c: InvalidCase): CordonError {
  try {
    compilePolicySet({
      schema: { file: SCHEMA_FILE, text: c.schema ?? SHIPPED_SCHEMA },
      policies: Object.entries(c.files).map(([file, text]) => ({ file, text })),
    });
  } catch (err) {
    if (err instanceof CordonError) return err;
    throw err;
  }
  throw new Error(`${c.name}: expected CONFIG_INVALID, but the set compiled`);
}

describe('loading policies', () => {
  it('loads the shipped policies with an @id on each and no warnings', () => {
    const set = loadPolicySet(SHIPPED_POLICIES);
    expect(set.policies.length).toBeGreaterThan(10);
    expect(new Set(set.policies.map((p) => p.id)).size).toBe(set.policies.length);
    expect(set.warnings).toEqual([]);
    expect(set.version).toMatch(/^sha256:[0-9a-f]{32}$/);
  });

  it('reads action groups from the schema', () => {
    const set = loadPolicySet(SHIPPED_POLICIES);
    expect(set.actionAncestors.get('fs.delete')).toEqual(expect.arrayContaining(['fs.delete', 'fs.mutate', 'destructive']));
    expect(set.actionAncestors.get('browse.page')).toEqual(['browse.page', 'egress']);
    expect(set.actionAncestors.get('fs.read')).toEqual(['fs.read']);
  });

  it.each(invalid)('rejects: $name', (c) => {
    const err = compileError(c);
    expect(err.code).toBe('CONFIG_INVALID');
    const problem = (err.details.problems as PolicyProblem[])[0];
    expect(problem).toBeDefined();
    expect(problem?.file).toBe(c.error.file);
    if (c.error.line !== undefined) expect(problem?.line).toBe(c.error.line);
    expect(problem?.reason).toContain(c.error.reason);
    // The message alone is enough to find and fix the problem.
    expect(err.message).toContain(`${c.error.file}:${c.error.line ?? ''}`);
  });

  it.each([
    ['a context attribute retyped', 'calls: Long,', 'calls: String,', 'is not valid for'],
    ['a resource attribute renamed', 'name: String,              // last segment', 'basename: String,          // last segment', 'attribute `name`'],
    ['tags removed from agents', 'entity Agent in [Group] tags String;', 'entity Agent in [Group];', 'tags'],
  ])('refuses a schema that does not accept what Cordon builds: %s', (_name, from, to, reason) => {
    expect(SHIPPED_SCHEMA).toContain(from);
    const err = compileError({ name: 'shape', schema: SHIPPED_SCHEMA.replace(from, to), files: {}, error: { file: '', reason: '' } });
    const problem = (err.details.problems as PolicyProblem[])[0];
    expect(problem?.reason).toMatch(/the schema does not accept the requests Cordon builds for "[a-z.]+"/);
    expect(problem?.reason).toContain(reason);
  });

  it('reports every problem, not only the first', () => {
    const err = compileError({
      name: 'two',
      files: { 'x.cedar': 'permit (principal, action, resource);\n@id("b") permit (principal, action, resource) when { 1 + };' },
      error: { file: '', reason: '' },
    });
    expect((err.details.problems as PolicyProblem[]).length).toBe(2);
    expect(err.message).toContain('(and 1 more)');
  });

  it('gives columns in characters even after multi-byte text', () => {
    const err = compileError({ name: 'utf8', files: { 'u.cedar': '// ünïcödé 🚀\n@id("u") permit (principal, action, resource) when { 1 + };' }, error: { file: '', reason: '' } });
    const p = (err.details.problems as PolicyProblem[])[0];
    expect(p?.line).toBe(2);
    expect(p?.column).toBe('@id("u") permit (principal, action, resource) when { 1 + }'.length);
  });

  it('keeps the version stable for the same content and changes it with any edit', () => {
    const tmp = createTempPolicyDir({}, SHIPPED_POLICIES);
    try {
      const before = loadPolicySet(tmp.dir).version;
      expect(loadPolicySet(SHIPPED_POLICIES).version).toBe(before);
      writeFileSync(join(tmp.dir, 'baseline.cedar'), readFileSync(join(tmp.dir, 'baseline.cedar'), 'utf8') + '\n// edited\n');
      expect(loadPolicySet(tmp.dir).version).not.toBe(before);
    } finally {
      tmp.remove();
    }
  });

  it('reports validator warnings (a policy that can never apply) without failing', () => {
    const tmp = createTempPolicyDir({ 'w.cedar': '@id("never") permit (principal == Group::"g", action == Action::"fs.read", resource);' });
    try {
      const result = validatePolicies(tmp.dir);
      expect(result.ok).toBe(true);
      expect(result.problems.some((p) => p.severity === 'warning' && p.policyId === 'never')).toBe(true);
    } finally {
      tmp.remove();
    }
  });

  it('validatePolicies reports instead of throwing, and names a missing schema', () => {
    const tmp = createTempPolicyDir({ 'ok.cedar': '@id("ok") permit (principal, action == Action::"fs.read", resource);' });
    try {
      expect(validatePolicies(tmp.dir)).toMatchObject({ ok: true, problems: [] });
      rmSync(join(tmp.dir, SCHEMA_FILE));
      const result = validatePolicies(tmp.dir);
      expect(result.ok).toBe(false);
      expect(result.problems[0]?.file).toBe(join(tmp.dir, SCHEMA_FILE));
      expect(() => loadPolicySet(tmp.dir)).toThrow(CordonError);
    } finally {
      tmp.remove();
    }
  });

  it('refuses a folder that does not exist', () => {
    expect(() => loadPolicySet('/nonexistent/cordon-policies')).toThrow(/cannot read the policy folder/);
  });
});
