import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadEgressPolicies, validateEgressPolicies } from './load-egress-policies.ts';
import { runEgressTests } from './run-egress-tests.ts';

const EXAMPLES = resolve(import.meta.dirname, '../../egress-policies');

describe('egress-policies/ (the shipped examples)', () => {
  it('validate', () => {
    const report = validateEgressPolicies(EXAMPLES);
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.policies.map((p) => p.name).sort()).toEqual(['browse-open', 'github', 'internal-wiki', 'package-registries']);
  });

  it('pass their own tests', async () => {
    const report = await runEgressTests(EXAMPLES);
    expect(report.failed, report.table).toBe(0);
  });
});

describe('loading a policy directory', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cordon-egress-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports every bad file and duplicate names, without throwing from validate', async () => {
    await writeFile(join(dir, 'a.yaml'), 'name: same\nallow:\n  - host: a.example\n');
    await writeFile(join(dir, 'b.yaml'), 'name: same\n');
    await writeFile(join(dir, 'c.yml'), 'name: c\nallow:\n  - host: "*"\n');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const report = validateEgressPolicies(dir);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => `${p.file.slice(dir.length + 1)}:${p.line}`)).toEqual(['b.yaml:1', 'c.yml:3']);
    expect(report.problems[0]?.reason).toContain('already used by');
    expect(() => loadEgressPolicies(dir)).toThrow(/c\.yml:3: a bare "\*"/);
  });

  it('fails a test run whose case disagrees, naming the case', async () => {
    await writeFile(join(dir, 'p.yaml'), 'name: p\nallow:\n  - host: a.example\n');
    await writeFile(join(dir, 'p.test.yaml'), 'policy: p\ncases:\n  - name: wrong on purpose\n    url: https://b.example/\n    expect: allow\n');
    const report = await runEgressTests(dir);
    expect([report.ok, report.failed]).toEqual([false, 1]);
    expect(report.table).toContain('FAIL');
    expect(report.table).toContain('p.test.yaml:3');
    expect(report.results[0]?.failures).toEqual(['expected allow, got deny']);
  });

  it('refuses a malformed test file with its line', async () => {
    await writeFile(join(dir, 'p.yaml'), 'name: p\n');
    await writeFile(join(dir, 'p.test.yaml'), 'policy: p\ncases:\n  - url: https://b.example/\n    expect: maybe\n');
    await expect(runEgressTests(dir)).rejects.toThrow(/p\.test\.yaml:3: "expect" must be allow or deny/);
  });

  it('names an unreadable directory', () => {
    expect(() => validateEgressPolicies(join(dir, 'missing'))).toThrow(/cannot read egress policy directory/);
  });
});
