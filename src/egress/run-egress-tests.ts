import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { CordonError } from '../core/errors.ts';
import { checkEgressVerdict } from './check-egress.ts';
import { EGRESS_REASONS, type EgressReasonCode } from './egress-reason.ts';
import type { EgressPolicy } from './egress-policy.ts';
import { listTestFiles, loadEgressPolicies } from './load-egress-policies.ts';

/**
 * `cordon egress test [dir]`: `*.test.yaml` files of cases, each checked like
 * `cordon egress check` (no lookups, no connections) against the policies in dir.
 *
 *   policy: github                  # default policy for the file
 *   resolve: {api.github.com: [140.82.112.6]}
 *   cases:
 *     - name: repo read is allowed
 *       url: https://api.github.com/repos/acme/x
 *       method: GET
 *       expect: allow               # allow | deny (required)
 *       rule: github.allow[3]       # optional; null for none
 *       code: allowed               # optional; a reason code
 *       reason: "allowed by"        # optional; substring of the reason
 *       address: 140.82.112.6       # optional; null for none
 */
export interface EgressTestCase {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly policy: string;
  readonly url?: string;
  readonly connect?: string;
  readonly method?: string;
  readonly resolve: Readonly<Record<string, readonly string[]>>;
  readonly expect: 'allow' | 'deny';
  readonly rule?: string | null;
  readonly code?: EgressReasonCode;
  readonly reason?: string;
  readonly address?: string | null;
}

export interface EgressTestResult {
  readonly testCase: EgressTestCase;
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly actual: { readonly decision: 'allow' | 'deny'; readonly code: string; readonly rule: string | null; readonly reason: string; readonly address: string | null } | null;
}

export interface EgressTestReport {
  readonly ok: boolean;
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly EgressTestResult[];
  /** A plain-text results table for the terminal. */
  readonly table: string;
}

/** The keys a test case may have; anything else is refused at load (docs/egress-policy-reference.md lists each). */
export const EGRESS_TEST_CASE_KEYS = ['name', 'policy', 'url', 'connect', 'method', 'resolve', 'expect', 'rule', 'code', 'reason', 'address'] as const;
/** The keys a test file's top level may have; anything else (a typo like `resolv:`) is refused at load. */
export const EGRESS_TEST_FILE_KEYS = ['policy', 'resolve', 'cases'] as const;
const CASE_KEYS: ReadonlySet<string> = new Set(EGRESS_TEST_CASE_KEYS);
const FILE_KEYS: ReadonlySet<string> = new Set(EGRESS_TEST_FILE_KEYS);

export async function runEgressTests(dir: string): Promise<EgressTestReport> {
  const policies = loadEgressPolicies(dir);
  const cases = listTestFiles(dir).flatMap((file) => loadEgressTestCases(file));
  const results: EgressTestResult[] = [];
  for (const c of cases) results.push(await runEgressTestCase(c, policies));
  const failed = results.filter((r) => !r.ok).length;
  return { ok: failed === 0 && results.length > 0, passed: results.length - failed, failed, results, table: formatTable(results, dir) };
}

export async function runEgressTestCase(c: EgressTestCase, policies: ReadonlyMap<string, EgressPolicy>): Promise<EgressTestResult> {
  const policy = policies.get(c.policy);
  if (policy === undefined) return { testCase: c, ok: false, failures: [`no policy named "${c.policy}"`], actual: null };
  let verdict;
  try {
    verdict = await checkEgressVerdict({ policy, url: c.url, connect: c.connect, method: c.method, resolve: c.resolve });
  } catch (err) {
    return { testCase: c, ok: false, failures: [`check failed: ${(err as Error).message}`], actual: null };
  }
  const actual = {
    decision: verdict.decision.result === 'allow' ? ('allow' as const) : ('deny' as const),
    code: verdict.code,
    rule: verdict.decision.ruleId,
    reason: verdict.decision.reason,
    address: verdict.address,
  };
  const failures: string[] = [];
  if (actual.decision !== c.expect) failures.push(`expected ${c.expect}, got ${actual.decision}`);
  if (c.rule !== undefined && actual.rule !== c.rule) failures.push(`expected rule ${String(c.rule)}, got ${String(actual.rule)}`);
  if (c.code !== undefined && actual.code !== c.code) failures.push(`expected code ${c.code}, got ${actual.code}`);
  if (c.reason !== undefined && !actual.reason.includes(c.reason)) failures.push(`expected the reason to contain "${c.reason}"`);
  if (c.address !== undefined && actual.address !== c.address) failures.push(`expected address ${String(c.address)}, got ${String(actual.address)}`);
  return { testCase: c, ok: failures.length === 0, failures, actual };
}

export function loadEgressTestCases(file: string): EgressTestCase[] {
  const lines = new LineCounter();
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const problems: string[] = [];
  const at = (node: Node | null | undefined): number => lines.linePos(node?.range?.[0] ?? 0).line;
  const fail = (node: Node | null | undefined, reason: string): void => void problems.push(`${file}:${at(node)}: ${reason}`);
  for (const err of doc.errors) problems.push(`${file}:${lines.linePos(err.pos[0]).line}: ${err.message.split('\n')[0]}`);
  const root = doc.contents;
  const out: EgressTestCase[] = [];
  if (problems.length === 0 && !isMap(root)) fail(root, 'a test file must be a mapping with "cases"');
  if (problems.length === 0 && isMap(root)) {
    const top = root.toJSON() as Record<string, unknown>;
    // A misspelt key would silently drop what it meant to set (a whole resolve table): refused.
    for (const key of Object.keys(top)) if (!FILE_KEYS.has(key)) fail(root, `unknown key "${key.slice(0, 64)}" (a test file has ${EGRESS_TEST_FILE_KEYS.join(', ')})`);
    const defaults = resolveTable(top['resolve'], (r) => fail(root.get('resolve', true) as Node, r));
    const casesNode = root.get('cases', true) as Node | undefined;
    if (!isSeq(casesNode)) fail(root, '"cases" must be a list');
    else {
      casesNode.items.forEach((item, i) => {
        const node = item as Node;
        if (!isMap(node)) return fail(node, 'each case must be a mapping');
        const raw = node.toJSON() as Record<string, unknown>;
        for (const key of Object.keys(raw)) if (!CASE_KEYS.has(key)) fail(node, `unknown key "${key}"`);
        const expect = raw['expect'];
        if (expect !== 'allow' && expect !== 'deny') return fail(node, '"expect" must be allow or deny');
        const policy = raw['policy'] ?? top['policy'];
        if (typeof policy !== 'string') return fail(node, 'no "policy" for this case (set it on the case or the file)');
        if ((raw['url'] === undefined) === (raw['connect'] === undefined)) return fail(node, 'give exactly one of "url" or "connect"');
        const code = raw['code'];
        if (code !== undefined && !(typeof code === 'string' && code in EGRESS_REASONS)) return fail(node, `unknown code "${String(code)}"`);
        const strOrNull = (k: string): string | null | undefined => (raw[k] === undefined ? undefined : raw[k] === null ? null : String(raw[k]));
        out.push({
          file,
          line: at(node),
          name: typeof raw['name'] === 'string' ? raw['name'] : `case ${i + 1}`,
          policy,
          url: raw['url'] === undefined ? undefined : String(raw['url']),
          connect: raw['connect'] === undefined ? undefined : String(raw['connect']),
          method: raw['method'] === undefined ? undefined : String(raw['method']),
          resolve: { ...defaults, ...resolveTable(raw['resolve'], (r) => fail(node, r)) },
          expect,
          rule: strOrNull('rule'),
          code: code as EgressReasonCode | undefined,
          reason: raw['reason'] === undefined ? undefined : String(raw['reason']),
          address: strOrNull('address'),
        });
      });
    }
  }
  if (problems.length > 0) throw new CordonError('CONFIG_INVALID', `invalid egress test file:\n${problems.join('\n')}`, { details: { problems } });
  return out;
}

function resolveTable(value: unknown, fail: (reason: string) => void): Record<string, readonly string[]> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('"resolve" must map names to an address or a list of addresses');
    return {};
  }
  const out: Record<string, readonly string[]> = {};
  for (const [name, v] of Object.entries(value)) {
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'string')) fail(`resolve.${name} must be address strings`);
    else out[name] = list as string[];
  }
  return out;
}

function formatTable(results: readonly EgressTestResult[], dir: string): string {
  const rows = results.map((r) => [
    r.ok ? 'PASS' : 'FAIL',
    `${relative(dir, r.testCase.file) || r.testCase.file}:${r.testCase.line}`,
    r.testCase.name,
    r.testCase.expect,
    r.actual === null ? '-' : `${r.actual.decision} (${r.actual.code})`,
    r.failures.join('; '),
  ]);
  const header = ['RESULT', 'CASE', 'NAME', 'EXPECTED', 'GOT', 'WHY'];
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length))));
  const fmt = (row: string[]): string => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const failed = results.filter((r) => !r.ok).length;
  const summary = `${results.length - failed} passed, ${failed} failed${results.length === 0 ? ' (no cases found: add *.test.yaml files)' : ''}`;
  return [fmt(header), ...rows.map(fmt), summary].join('\n');
}
