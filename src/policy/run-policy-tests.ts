import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DecisionResult } from '../core/decision.ts';
import { CordonError } from '../core/errors.ts';
import { parseUserRef, userKey } from '../core/principal.ts';
import type { AuthzRequest, AuthzResource, PrincipalFacts, ToolAnnotations } from './authz-request.ts';
import { NO_ANNOTATIONS } from './authz-request.ts';
import { loadPolicySet } from './load-policy-set.ts';
import type { PolicyDecision } from './policy-decision.ts';
import { createPolicyEngine } from './policy-engine.ts';
import type { PolicyProblem } from './policy-set.ts';
import { parsePolicyTestFile, type PolicyTestCase, type PolicyTestFile } from './policy-test-file.ts';
import { formatPolicyTestTable } from './policy-test-table.ts';

/** What the tool registry says a tool call is, for tool-based test cases. */
export interface ResolvedTool {
  readonly action: string;
  readonly resource: AuthzResource;
  readonly annotations?: ToolAnnotations;
}

export interface PolicyTestOptions {
  /** Maps a tool and its input to its verb, canonical resource and annotations (the runner supplies it). */
  readonly resolveTool?: (name: string, input: unknown) => ResolvedTool | Promise<ResolvedTool>;
  /** Principals not defined in a test file's `agents:` / `users:` (for example from config). */
  readonly resolveAgent?: (id: string) => PrincipalFacts | undefined;
  readonly resolveUser?: (id: string) => PrincipalFacts | undefined;
  /** Where the YAML cases are; default `<dir>/tests`. */
  readonly testsDir?: string;
}

export interface PolicyTestResult {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly expected: DecisionResult;
  readonly expectedPolicy: string | null;
  /** 'error' when the case could not be evaluated (unknown agent, unresolvable tool, malformed request). */
  readonly actual: DecisionResult | 'error';
  /** The deciding policies (PolicyDecision.policyIds). */
  readonly policyIds: readonly string[];
  readonly reason: string;
  readonly pass: boolean;
  /** The full decision, or null when the case could not be evaluated. */
  readonly decision: PolicyDecision | null;
}

export interface PolicyTestReport {
  /** True when there is at least one case and every case passed. */
  readonly ok: boolean;
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly PolicyTestResult[];
  /** Policies that decided no case: untested. */
  readonly unexercised: readonly string[];
  readonly warnings: readonly PolicyProblem[];
  readonly policyVersion: string;
  /** The folder of policies tested, and the folder their cases came from. */
  readonly policyDir: string;
  readonly testsDir: string;
  /** The whole report as a printable table. */
  readonly table: string;
}

/**
 * Runs `<dir>/tests/*.yaml` against the policies in `<dir>`. Throws
 * CONFIG_INVALID when the policies or a test file are invalid (with file and
 * line); a case that fails or cannot be evaluated is a failing row instead.
 */
export async function runPolicyTests(dir: string, options: PolicyTestOptions = {}): Promise<PolicyTestReport> {
  const set = loadPolicySet(dir);
  const testsDir = options.testsDir ?? join(dir, 'tests');
  const files = readTestFiles(testsDir);
  const engine = createPolicyEngine(set);
  const results: PolicyTestResult[] = [];
  const exercised = new Set<string>();
  try {
    for (const file of files) {
      for (const c of file.cases) {
        const result = await runCase(c, file, options, (req) => engine.decide(req));
        // A policy that fired for either principal was exercised, even when the
        // other principal's decision was the deciding one.
        const d = result.decision;
        for (const id of [...(d?.agentDecision.policyIds ?? []), ...(d?.userDecision?.policyIds ?? [])]) exercised.add(id);
        results.push(result);
      }
    }
  } finally {
    engine.close();
  }
  const passed = results.filter((r) => r.pass).length;
  const failed = results.length - passed;
  const unexercised = set.policies.filter((p) => !exercised.has(p.id)).map((p) => p.id);
  const report = { ok: results.length > 0 && failed === 0, passed, failed, results, unexercised, warnings: set.warnings, policyVersion: set.version, policyDir: resolve(dir), testsDir: resolve(testsDir) };
  return { ...report, table: formatPolicyTestTable(report) };
}

function readTestFiles(testsDir: string): PolicyTestFile[] {
  let names: string[];
  try {
    names = readdirSync(testsDir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort();
  } catch (err) {
    throw new CordonError('CONFIG_INVALID', `cannot read policy tests in ${testsDir}: ${(err as Error).message}`, { cause: err, details: { source: 'policy tests', file: testsDir } });
  }
  return names.map((n) => {
    const file = join(testsDir, n);
    return parsePolicyTestFile(file, readFileSync(file, 'utf8'));
  });
}

async function runCase(c: PolicyTestCase, file: PolicyTestFile, options: PolicyTestOptions, decide: (req: AuthzRequest) => PolicyDecision): Promise<PolicyTestResult> {
  const base = { file: c.file, line: c.line, name: c.name, expected: c.expect, expectedPolicy: c.policy };
  const error = (reason: string): PolicyTestResult => ({ ...base, actual: 'error', policyIds: [], reason, pass: false, decision: null });

  const agent = file.agents.get(c.agent) ?? options.resolveAgent?.(c.agent);
  if (agent === undefined) return error(`agent "${c.agent}" is not defined under \`agents:\` in this file`);
  let user: PrincipalFacts | null = null;
  if (c.user !== null) {
    // A user is named here as an operator names one (`alice` for a local user, `<issuer>#<sub>`); its
    // entity id is the user's key, as in production, so `User::"…"` in a policy is tested as it will be met.
    const fromFile = file.users.get(c.user);
    const ref = parseUserRef(c.user);
    user = fromFile !== undefined ? { ...fromFile, id: ref === null ? fromFile.id : userKey(ref) } : (options.resolveUser?.(c.user) ?? null);
    if (user === null) return error(`user "${c.user}" is not defined under \`users:\` in this file`);
  }

  let action: string;
  let resource: AuthzResource;
  let annotations: ToolAnnotations = c.annotations ?? NO_ANNOTATIONS;
  if (c.target.kind === 'action') {
    ({ action, resource } = c.target);
  } else {
    if (options.resolveTool === undefined) {
      return error(`case uses tool "${c.target.tool}" but no tool resolver was given; run it with \`cordon policy test\`, or give the case an action and resource`);
    }
    try {
      const resolved = await options.resolveTool(c.target.tool, c.target.input);
      ({ action, resource } = resolved);
      annotations = c.annotations ?? resolved.annotations ?? NO_ANNOTATIONS;
    } catch (err) {
      return error(`tool "${c.target.tool}" could not be resolved: ${(err as Error).message}`);
    }
  }

  try {
    const d = decide({ agent, user, action, resource, context: { session: c.session, sandbox: { profile: c.sandboxProfile }, annotations } });
    const policyOk = c.policy === null || d.policyIds.includes(c.policy);
    return { ...base, actual: d.result, policyIds: d.policyIds, reason: d.reason, pass: d.result === c.expect && policyOk, decision: d };
  } catch (err) {
    return error(err instanceof CordonError ? err.message : `unexpected failure: ${(err as Error).message}`);
  }
}
