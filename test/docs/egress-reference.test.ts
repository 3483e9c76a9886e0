import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUNDLED_EGRESS_POLICY_DIR } from '../../src/config/defaults.ts';
import {
  checkEgressVerdict,
  compileEgressPolicy,
  EGRESS_INJECT_KEYS,
  EGRESS_POLICY_KEYS,
  EGRESS_REASONS,
  EGRESS_RULE_KEYS,
  EGRESS_TEST_CASE_KEYS,
  EGRESS_TEST_FILE_KEYS,
  errorCodeFor,
  loadEgressPolicies,
  runEgressTests,
  statusFor,
  type EgressReasonCode,
  type EgressRule,
} from '../../src/egress/index.ts';
import { codeBlocks, documentedNames, tableCells, tableUnder } from '../support/markdown.ts';

// docs/egress-policy-reference.md is the field reference for egress policies and
// their test files. These tests tie it to the parsers: a field added to a parser
// and not to the reference (or documented and not accepted) fails here, and so
// does an example that no longer loads or no longer matches the shipped policies.

const REFERENCE = join(import.meta.dirname, '..', '..', 'docs', 'egress-policy-reference.md');
const doc = readFileSync(REFERENCE, 'utf8');

const names = (heading: string) => documentedNames(tableUnder(doc, heading)).sort();
const sorted = (keys: readonly string[]) => [...keys].sort();

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the egress policy reference documents exactly what the parsers accept', () => {
  it.each([
    ['Policy file: top-level fields', EGRESS_POLICY_KEYS],
    ['Rule fields', EGRESS_RULE_KEYS],
    ['`inject`', EGRESS_INJECT_KEYS],
    ['Test file: top-level fields', EGRESS_TEST_FILE_KEYS],
    ['Test case fields', EGRESS_TEST_CASE_KEYS],
    ['Reason codes', Object.keys(EGRESS_REASONS)],
  ])('%s', (heading, keys) => {
    expect(names(heading)).toEqual(sorted(keys));
  });

  it('gives every field a type, a default, what is accepted and a meaning', () => {
    for (const heading of ['Policy file: top-level fields', 'Rule fields', '`inject`', 'Test file: top-level fields', 'Test case fields']) {
      for (const row of tableUnder(doc, heading)) {
        expect(row, `${heading}: ${row[0]}`).toHaveLength(5);
        expect(row.every((cell) => cell.length > 0), `${heading}: ${row[0]} has an empty cell`).toBe(true);
      }
    }
  });

  it('names the error code and HTTP status each reason code is reported as', () => {
    for (const row of tableUnder(doc, 'Reason codes')) {
      const code = (row[0] ?? '').replace(/`/g, '') as EgressReasonCode;
      const error = errorCodeFor(code);
      expect(row[1], code).toBe(error === null ? 'none (allowed)' : `\`${error}\` (${statusFor(code)})`);
      expect(['yes', 'no'], code).toContain(row[2]);
    }
  });

  // "in tests: yes" says `cordon egress test` can expect the code; each such code is
  // what `egress check` answers for one of these requests, and no other code is marked yes.
  it('marks yes exactly the codes an offline check produces', async () => {
    const policy = (yaml: string) => {
      const r = compileEgressPolicy(yaml, 'p.yaml');
      if ('problems' in r) throw new Error(JSON.stringify(r.problems));
      return r.policy;
    };
    const enforce = policy('name: p\nallow:\n  - host: allowed.test\n  - host: loop.test\n  - host: dropped.test\ndeny:\n  - host: denied.test\ndeny_cidrs: [127.0.0.0/8]\n');
    const open = policy('name: o\nmode: open\n');
    const requests: Array<[EgressReasonCode, Parameters<typeof checkEgressVerdict>[0]]> = [
      ['allowed', { policy: enforce, url: 'https://allowed.test/' }],
      ['open_mode', { policy: open, url: 'https://anything.test/' }],
      ['invalid_request', { policy: enforce, url: 'https://user@allowed.test/' }],
      ['localhost', { policy: open, url: 'http://localhost/' }],
      ['metadata_host', { policy: open, url: 'http://metadata.google.internal/' }],
      ['denied_by_rule', { policy: enforce, url: 'https://denied.test/' }],
      ['no_matching_rule', { policy: enforce, url: 'https://other.test/' }],
      ['ip_literal_not_listed', { policy: enforce, url: 'https://[::1]/' }],
      ['forbidden_address', { policy: enforce, url: 'https://loop.test/', resolve: { 'loop.test': ['::1'] } }],
      ['denied_by_cidr', { policy: enforce, url: 'https://dropped.test/', resolve: { 'dropped.test': ['127.0.0.9'] } }],
    ];
    for (const [code, input] of requests) expect((await checkEgressVerdict(input)).code, code).toBe(code);
    const yes = tableUnder(doc, 'Reason codes').filter((row) => row[2] === 'yes').map((row) => (row[0] ?? '').replace(/`/g, ''));
    expect(yes.sort()).toEqual(requests.map(([code]) => code).sort());
  });

  // The key lists are what the parser enforces, not a copy beside it: each listed
  // key gets past the unknown-key check, and a key not listed does not.
  it.each([
    ['a top-level key', EGRESS_POLICY_KEYS, (key: string) => `name: p\n${key}: x\n`],
    ['an allow-rule key', EGRESS_RULE_KEYS, (key: string) => `name: p\nallow:\n  - host: example.com\n    ${key}: x\n`],
    ['an inject key', EGRESS_INJECT_KEYS, (key: string) => `name: p\nallow:\n  - host: example.com\n    inject: {${key}: x}\n`],
  ])('the parser refuses %s it does not list, and only those', (_what, keys: readonly string[], policyWith) => {
    const unknownKey = (key: string) => {
      const r = compileEgressPolicy(policyWith(key), 'p.yaml');
      return 'problems' in r && r.problems.some((p) => p.reason.startsWith(`unknown key "${key}"`));
    };
    for (const key of keys) expect(unknownKey(key), key).toBe(false);
    expect(unknownKey('undocumented')).toBe(true);
  });
});

describe('the examples in the reference', () => {
  const blocks = codeBlocks(doc, 'yaml');
  const policyBlocks = blocks.filter((b) => !('cases' in (parse(b) as object)));
  const testBlocks = blocks.filter((b) => 'cases' in (parse(b) as object));
  const shipped = loadEgressPolicies(BUNDLED_EGRESS_POLICY_DIR);

  it('has policy and test examples', () => {
    expect(policyBlocks.length).toBeGreaterThanOrEqual(3);
    expect(testBlocks.length).toBeGreaterThanOrEqual(1);
  });

  // What a rule does, without where it was written.
  const meaning = (r: EgressRule) => JSON.stringify({ list: r.list, host: r.host, ports: r.ports, schemes: r.schemes, methods: r.methods, paths: r.paths?.map((p) => p.text) ?? null, inject: r.inject === null ? null : { header: r.inject.header, value: r.inject.value.text } });

  it('each policy example loads, and is taken from the shipped policy of its name', () => {
    for (const block of policyBlocks) {
      const result = compileEgressPolicy(block, 'example.yaml');
      if ('problems' in result) throw new Error(`example does not load:\n${block}\n${JSON.stringify(result.problems)}`);
      const original = shipped.get(result.policy.name);
      expect(original, `no shipped policy named ${result.policy.name}`).toBeDefined();
      const rules = new Set([...(original?.allow ?? []), ...(original?.deny ?? [])].map(meaning));
      for (const rule of [...result.policy.allow, ...result.policy.deny]) expect(rules.has(meaning(rule)), `${rule.id} of the example is not in ${original?.source.file}`).toBe(true);
      if (result.policy.mode !== 'enforce') expect(result.policy.mode).toBe(original?.mode);
      if (result.policy.trusted) expect(original?.trusted).toBe(true);
    }
  });

  it('each test example passes against the shipped policies', async () => {
    for (const block of testBlocks) {
      const dir = mkdtempSync(join(tmpdir(), 'cordon-egress-ref-'));
      dirs.push(dir);
      for (const policy of shipped.values()) copyFileSync(policy.source.file, join(dir, basename(policy.source.file)));
      writeFileSync(join(dir, 'example.test.yaml'), block);
      const report = await runEgressTests(dir);
      expect(report.results.map((r) => [r.testCase.name, r.failures])).toEqual(report.results.map((r) => [r.testCase.name, []]));
      expect(report.passed).toBe((parse(block) as { cases: unknown[] }).cases.length);
    }
  });
});

describe('markdown table reading (the checks above rely on it)', () => {
  it('splits cells, keeping a | inside backticks', () => {
    expect(tableCells('| `a|b` | two | `c` |')).toEqual(['`a|b`', 'two', '`c`']);
  });

  it('reads the body of the table under a heading, and fails loudly when there is none', () => {
    const md = '# T\n\n## Fields\n\nText.\n\n| f | t |\n|---|---|\n| `x` | 1 |\n| `y` | 2 |\n\n## Other\n\n| f |\n|---|\n| `z` |\n';
    expect(documentedNames(tableUnder(md, 'Fields'))).toEqual(['x', 'y']);
    expect(() => tableUnder(md, 'Missing')).toThrow(/no heading/);
    expect(() => tableUnder('## Fields\n\nno table\n## Next\n| a |\n|---|\n| b |\n', 'Fields')).toThrow(/no table/);
  });

  it('ignores tables and headings inside code fences', () => {
    const md = '## Fields\n\n```md\n## Fields\n| `fake` |\n```\n\n| f |\n|---|\n| `real` |\n';
    expect(documentedNames(tableUnder(md, 'Fields'))).toEqual(['real']);
  });
});
