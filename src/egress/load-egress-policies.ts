import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CordonError } from '../core/errors.ts';
import { readBoundedTextFile } from '../core/read-bounded-file.ts';
import type { EgressPolicy, PolicyProblem } from './egress-policy.ts';
import { compileEgressPolicy, policyError } from './parse-egress-policy.ts';

/** Policy files in a directory: `*.yaml` / `*.yml`, excluding `*.test.yaml` case files. */
export function listPolicyFiles(dir: string): string[] {
  return readDir(dir)
    .filter((name) => /\.ya?ml$/.test(name) && !/\.test\.ya?ml$/.test(name))
    .map((name) => join(dir, name));
}

/** Test case files in a directory: `*.test.yaml` / `*.test.yml`. */
export function listTestFiles(dir: string): string[] {
  return readDir(dir)
    .filter((name) => /\.test\.ya?ml$/.test(name))
    .map((name) => join(dir, name));
}

function readDir(dir: string): string[] {
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    return readdirSync(dir).sort();
  } catch (err) {
    throw new CordonError('CONFIG_INVALID', `cannot read egress policy directory ${dir}: ${(err as Error).message}`, { cause: err, details: { dir } });
  }
}

export function loadEgressPolicyFile(file: string): EgressPolicy {
  const result = compileFile(file);
  if ('problems' in result) throw policyError(result.problems);
  return result.policy;
}

/** Larger than any egress policy a person writes; a bigger one is refused unread. */
export const MAX_EGRESS_POLICY_FILE_BYTES = 1024 * 1024;

function compileFile(file: string): { policy: EgressPolicy } | { problems: readonly PolicyProblem[] } {
  const read = readBoundedTextFile(file, MAX_EGRESS_POLICY_FILE_BYTES);
  if ('reason' in read) return { problems: [{ file, line: 0, reason: read.reason }] };
  return compileEgressPolicy(read.text, file);
}

export interface ValidationReport {
  readonly ok: boolean;
  readonly policies: ReadonlyArray<{ readonly name: string; readonly file: string; readonly mode: string; readonly allowRules: number; readonly denyRules: number }>;
  readonly problems: readonly PolicyProblem[];
  /** Loads, but probably not what was meant (a wildcard under a public suffix, link-local allow_cidrs). */
  readonly warnings: readonly PolicyProblem[];
}

/** `cordon egress validate [dir]`: every file, every problem; never throws for a bad policy. */
export function validateEgressPolicies(dir: string): ValidationReport {
  const { policies, problems } = compileDir(dir);
  return {
    ok: problems.length === 0,
    policies: [...policies.values()].map((p) => ({ name: p.name, file: p.source.file, mode: p.mode, allowRules: p.allow.length, denyRules: p.deny.length })),
    problems,
    warnings: [...policies.values()].flatMap((p) => p.warnings),
  };
}

/** Loads every policy in `dir`, keyed by name. Throws CONFIG_INVALID naming every problem. */
export function loadEgressPolicies(dir: string): ReadonlyMap<string, EgressPolicy> {
  const { policies, problems } = compileDir(dir);
  if (problems.length > 0) throw policyError(problems);
  return policies;
}

function compileDir(dir: string): { policies: Map<string, EgressPolicy>; problems: PolicyProblem[] } {
  const policies = new Map<string, EgressPolicy>();
  const problems: PolicyProblem[] = [];
  for (const file of listPolicyFiles(dir)) {
    const result = compileFile(file);
    if ('problems' in result) {
      problems.push(...result.problems);
      continue;
    }
    const existing = policies.get(result.policy.name);
    if (existing !== undefined) {
      problems.push({ file, line: result.policy.source.line, reason: `policy name "${result.policy.name}" is already used by ${existing.source.file}` });
      continue;
    }
    policies.set(result.policy.name, result.policy);
  }
  return { policies, problems };
}
