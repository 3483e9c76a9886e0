import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CordonError } from '../core/errors.ts';
import { readBoundedTextFile } from '../core/read-bounded-file.ts';
import { checkParseSchema, policySetTextToParts, policyToJson, schemaToJson, validate, type DetailedError } from './cedar.ts';
import { checkRequestShapes, type ActionTypes } from './check-request-shapes.ts';
import { byteToCharOffset, positionAt, splitPolicyStatements } from './policy-source.ts';
import { formatPolicyProblem, type LoadedPolicySet, type PolicyInfo, type PolicyProblem, type PolicySetSources, type PolicySource } from './policy-set.ts';

export const SCHEMA_FILE = 'cordon.cedarschema';

/** Larger than any policy file a person writes; a bigger one is a mistake or an attack, refused unread. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

/** Policy ids appear in audit records, logs and tables: keep them plain. */
const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** @id and @approval mean something to Cordon; the others are free text for people. */
const KNOWN_ANNOTATIONS = ['id', 'approval', 'description', 'reason'];

/** Entity types Cordon builds for every request; the schema must declare each. */
const REQUIRED_ENTITY_TYPES = ['Group', 'Agent', 'User', 'File', 'Url', 'Language', 'SandboxProfile'];

export interface PolicyValidation {
  readonly ok: boolean;
  /** Errors first, then warnings. */
  readonly problems: readonly PolicyProblem[];
  readonly policySet: LoadedPolicySet | null;
}

/**
 * Reads `<dir>/*.cedar` and `<dir>/cordon.cedarschema` and compiles them.
 * Throws CONFIG_INVALID naming the file, line and reason of every problem.
 */
export function loadPolicySet(dir: string): LoadedPolicySet {
  return compilePolicySet(readPolicySources(dir));
}

/** Like loadPolicySet, but reports instead of throwing (for `cordon policy validate`). */
export function validatePolicies(dir: string): PolicyValidation {
  let sources: PolicySetSources;
  try {
    sources = readPolicySources(dir);
  } catch (err) {
    const problems = err instanceof CordonError ? (err.details.problems as PolicyProblem[]) : [];
    return { ok: false, problems, policySet: null };
  }
  return checkPolicySet(sources);
}

/** Compiles in-memory sources (tests, benchmarks, a config that embeds policies). */
export function compilePolicySet(sources: PolicySetSources): LoadedPolicySet {
  const result = checkPolicySet(sources);
  if (result.policySet !== null) return result.policySet;
  const errors = result.problems.filter((p) => p.severity === 'error');
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  throw new CordonError('CONFIG_INVALID', `invalid policy set: ${first ? formatPolicyProblem(first) : 'unknown problem'}${more}`, {
    details: { source: 'policies', problems: errors },
  });
}

function readPolicySources(dir: string): PolicySetSources {
  const read = (file: string): PolicySource => {
    const read = readBoundedTextFile(file, MAX_POLICY_FILE_BYTES);
    if ('text' in read) return { file, text: read.text };
    const problem: PolicyProblem = { severity: 'error', file, reason: read.reason };
    throw new CordonError('CONFIG_INVALID', formatPolicyProblem(problem), { details: { source: 'policies', problems: [problem] } });
  };
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.cedar')).sort();
  } catch (err) {
    const problem: PolicyProblem = { severity: 'error', file: dir, reason: `cannot read the policy folder: ${(err as Error).message}` };
    throw new CordonError('CONFIG_INVALID', formatPolicyProblem(problem), { cause: err, details: { source: 'policies', problems: [problem] } });
  }
  return { schema: read(join(dir, SCHEMA_FILE)), policies: names.map((n) => read(join(dir, n))) };
}

function checkPolicySet(sources: PolicySetSources): PolicyValidation {
  const problems: PolicyProblem[] = [];
  const fail = (): PolicyValidation => ({ ok: false, problems: sortProblems(problems), policySet: null });

  const schema = sources.schema;
  const schemaParse = checkParseSchema(schema.text);
  if (schemaParse.type === 'failure') {
    for (const e of schemaParse.errors) problems.push(problemAt(schema, 0, schema.text, e, undefined));
    return fail();
  }
  const actions = readSchemaActions(schema, problems);
  if (actions === null) return fail();
  problems.push(...checkRequestShapes(schema.file, schema.text, actions.types));
  if (problems.some((p) => p.severity === 'error')) return fail();

  const policies: PolicyInfo[] = [];
  const located = new Map<string, { info: PolicyInfo; source: PolicySource; offset: number }>();
  for (const file of sources.policies) {
    const statements = splitPolicyStatements(file.text);
    for (const statement of statements) {
      const info = parseStatement(file, statement.text, statement.offset, statement.line, problems);
      if (info === null) continue;
      const seen = located.get(info.id)?.info;
      if (seen !== undefined) {
        problems.push({ severity: 'error', file: info.file, line: info.line, policyId: info.id, reason: `duplicate @id, first used at ${seen.file}:${seen.line}` });
        continue;
      }
      located.set(info.id, { info, source: file, offset: statement.offset });
      policies.push(info);
    }
    // Cross-check our statement split against Cedar's own parse of the whole file,
    // so a policy can never be lost between the two.
    const parts = policySetTextToParts(file.text);
    if (parts.type === 'success' && parts.policies.length + parts.policy_templates.length !== statements.length) {
      problems.push({ severity: 'error', file: file.file, reason: `Cedar sees ${parts.policies.length + parts.policy_templates.length} policies, Cordon split ${statements.length}; please report this file` });
    }
  }

  if (policies.length > 0) {
    const answer = validate({
      schema: schema.text,
      policies: { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.text])) },
      validationSettings: { mode: 'strict' },
    });
    if (answer.type === 'failure') {
      for (const e of answer.errors) problems.push({ severity: 'error', file: schema.file, reason: describe(e) });
    } else {
      for (const v of answer.validationErrors) problems.push(policyProblem(located.get(v.policyId), v.policyId, v.error, 'error'));
      for (const v of answer.validationWarnings) problems.push(policyProblem(located.get(v.policyId), v.policyId, v.error, 'warning'));
    }
  }

  if (problems.some((p) => p.severity === 'error')) return fail();
  const warnings = sortProblems(problems);
  const policySet: LoadedPolicySet = Object.freeze({
    version: versionOf(sources),
    schema,
    policies: Object.freeze(policies),
    actionAncestors: actions.ancestors,
    actionTypes: actions.types,
    warnings,
  });
  return { ok: true, problems: warnings, policySet };
}

function parseStatement(file: PolicySource, text: string, offset: number, line: number, problems: PolicyProblem[]): PolicyInfo | null {
  const parsed = policyToJson(text);
  if (parsed.type === 'failure') {
    for (const e of parsed.errors) problems.push(problemAt(file, offset, text, e, undefined));
    return null;
  }
  const json = parsed.json;
  const annotations = json.annotations ?? {};
  const id = annotations.id;
  if (typeof id !== 'string' || !POLICY_ID.test(id)) {
    const got = id === undefined ? 'no @id annotation' : `@id(${JSON.stringify(id)}) is not a valid id`;
    problems.push({ severity: 'error', file: file.file, line, reason: `${got}; every policy needs a unique @id("...") of letters, digits, '.', '_', ':' or '-' (at most 128)` });
    return null;
  }
  // A misspelt annotation (`@approve`) must not silently turn into a plain permit.
  const unknown = Object.keys(annotations).filter((k) => !KNOWN_ANNOTATIONS.includes(k));
  if (unknown.length > 0) {
    problems.push({ severity: 'error', file: file.file, line, policyId: id, reason: `unknown annotation @${unknown[0]}; Cordon understands ${KNOWN_ANNOTATIONS.map((k) => `@${k}`).join(', ')}` });
    return null;
  }
  const approval = annotations.approval;
  if (approval !== undefined && approval !== 'required') {
    problems.push({ severity: 'error', file: file.file, line, policyId: id, reason: `@approval(${JSON.stringify(approval)}) is not understood; the only value is @approval("required")` });
    return null;
  }
  return Object.freeze({
    id,
    effect: json.effect,
    approval: approval === 'required',
    file: file.file,
    line,
    text,
    scope: Object.freeze({ principal: json.principal, action: json.action, resource: json.resource }),
  });
}

/**
 * From the schema: each action → [itself, ...every group it is in] (from its
 * `in [...]` declarations), and the principal and resource types it applies to.
 */
function readSchemaActions(
  schema: PolicySource,
  problems: PolicyProblem[],
): { ancestors: Map<string, readonly string[]>; types: Map<string, ActionTypes> } | null {
  const answer = schemaToJson(schema.text);
  if (answer.type === 'failure') {
    for (const e of answer.errors) problems.push(problemAt(schema, 0, schema.text, e, undefined));
    return null;
  }
  const namespaces = Object.keys(answer.json);
  const root = answer.json[''];
  if (root === undefined || namespaces.length !== 1) {
    problems.push({ severity: 'error', file: schema.file, reason: 'the schema must declare its types and actions without a namespace (Cordon builds `Agent::"id"`, not `Ns::Agent::"id"`)' });
    return null;
  }
  for (const type of REQUIRED_ENTITY_TYPES) {
    if (!(type in root.entityTypes)) problems.push({ severity: 'error', file: schema.file, reason: `the schema must declare entity type ${type} (Cordon builds it for every request)` });
  }
  const parents = new Map<string, string[]>();
  const types = new Map<string, ActionTypes>();
  for (const [name, action] of Object.entries(root.actions)) {
    parents.set(name, (action.memberOf ?? []).filter((m) => m.type === undefined || m.type === 'Action').map((m) => m.id));
    types.set(name, { principalTypes: action.appliesTo?.principalTypes ?? [], resourceTypes: action.appliesTo?.resourceTypes ?? [] });
  }
  const ancestors = new Map<string, readonly string[]>();
  for (const name of parents.keys()) {
    const seen = new Set<string>([name]);
    const queue = [name];
    while (queue.length > 0) {
      for (const parent of parents.get(queue.pop() ?? '') ?? []) {
        if (!seen.has(parent)) {
          seen.add(parent);
          queue.push(parent);
        }
      }
    }
    ancestors.set(name, Object.freeze([...seen]));
  }
  return problems.length > 0 ? null : { ancestors, types };
}

function policyProblem(
  at: { info: PolicyInfo; source: PolicySource; offset: number } | undefined,
  policyId: string,
  e: DetailedError,
  severity: 'error' | 'warning',
): PolicyProblem {
  if (at === undefined) return { severity, file: '(policies)', policyId, reason: describe(e) };
  return { ...problemAt(at.source, at.offset, at.info.text, e, policyId), severity };
}

/** A Cedar error located in `file`, where `text` (what Cedar parsed) starts at `offset`. */
function problemAt(file: PolicySource, offset: number, text: string, e: DetailedError, policyId: string | undefined): PolicyProblem {
  const loc = e.sourceLocations?.[0];
  const at = positionAt(file.text, offset + (loc ? byteToCharOffset(text, loc.start) : 0));
  return { severity: 'error', file: file.file, line: at.line, column: at.column, ...(policyId === undefined ? {} : { policyId }), reason: describe(e) };
}

function describe(e: DetailedError): string {
  const label = e.sourceLocations?.find((l) => l.label)?.label;
  const parts = [e.message.replace(/^failed to parse policy(?: with id `[^`]*`)? from string: /, '')];
  if (label) parts.push(label);
  if (e.help) parts.push(`help: ${e.help}`);
  return parts.join('; ');
}

function sortProblems(problems: PolicyProblem[]): PolicyProblem[] {
  const rank = (p: PolicyProblem) => (p.severity === 'error' ? 0 : 1);
  return [...problems].sort((a, b) => rank(a) - rank(b) || a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0));
}

function versionOf(sources: PolicySetSources): string {
  const hash = createHash('sha256');
  for (const s of [sources.schema, ...sources.policies]) {
    const name = basename(s.file);
    hash.update(`${name.length}:${name}${s.text.length}:${s.text}`);
  }
  return `sha256:${hash.digest('hex').slice(0, 32)}`;
}
