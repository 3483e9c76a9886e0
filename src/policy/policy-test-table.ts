import { basename } from 'node:path';
import type { PolicyProblem } from './policy-set.ts';
import { formatPolicyProblem } from './policy-set.ts';
import type { PolicyTestResult } from './run-policy-tests.ts';

export interface PolicyTestTableInput {
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly PolicyTestResult[];
  readonly unexercised: readonly string[];
  readonly warnings: readonly PolicyProblem[];
  readonly policyVersion: string;
  readonly policyDir: string;
  readonly testsDir: string;
}

const MAX_NAME = 56;

/**
 * One row per case; a failing row is followed by an indented line saying why.
 * Plain text, no colour, so it reads the same in a terminal and in CI logs.
 */
export function formatPolicyTestTable(r: PolicyTestTableInput): string {
  const rows = r.results.map((t) => {
    const expected = t.expectedPolicy === null ? t.expected : `${t.expected} by ${t.expectedPolicy}`;
    return [t.pass ? 'ok' : 'FAIL', `${basename(t.file)}:${t.line}`, clip(t.name), expected, t.actual, deciding(t)];
  });
  const header = ['', 'case', 'name', 'expected', 'actual', 'deciding policies'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();

  const out = [line(header)];
  r.results.forEach((t, i) => {
    out.push(line(rows[i] ?? []));
    if (!t.pass) out.push(`      ${whyFailed(t)}`);
  });
  if (r.results.length === 0) out.push('(no test cases found)');
  out.push('');
  // Which folder was tested: with several policy folders about, a green line must say whose it is.
  out.push(`policy tests of ${r.policyDir} (cases in ${r.testsDir}): ${r.passed} passed, ${r.failed} failed; policy set ${r.policyVersion}`);
  if (r.unexercised.length > 0) out.push(`not exercised by any case (${r.unexercised.length}): ${r.unexercised.join(', ')}`);
  for (const w of r.warnings) out.push(formatPolicyProblem(w));
  return out.join('\n');
}

/** Delegated calls show each principal's own result, so "who said no" is visible. */
function deciding(t: PolicyTestResult): string {
  const d = t.decision;
  const ids = (xs: readonly string[]) => xs.join(', ') || '-';
  if (d?.userDecision === undefined) return ids(t.policyIds);
  return `agent ${d.agentDecision.result}: ${ids(d.agentDecision.policyIds)} | user ${d.userDecision.result}: ${ids(d.userDecision.policyIds)}`;
}

function whyFailed(t: PolicyTestResult): string {
  if (t.actual === 'error') return `error: ${t.reason}`;
  if (t.actual !== t.expected) return `expected ${t.expected}, got ${t.actual}: ${t.reason}`;
  return `expected policy ${t.expectedPolicy} among the deciding policies, got ${t.policyIds.join(', ') || 'none'}: ${t.reason}`;
}

function clip(s: string): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > MAX_NAME ? `${flat.slice(0, MAX_NAME - 1)}…` : flat;
}
