import { isNode, LineCounter, parseDocument } from 'yaml';
import type { DecisionResult } from '../core/decision.ts';
import { CordonError } from '../core/errors.ts';
import { emptySessionFacts, NO_ANNOTATIONS, parseUrlResource, type AuthzResource, type PrincipalFacts, type SessionFacts, type ToolAnnotations } from './authz-request.ts';

/**
 * One file of policy test cases (`policies/tests/*.yaml`):
 *
 *   agents: { coder: { groups: [coding], attributes: { team: core } } }
 *   users:  { alice: { groups: [engineering] } }
 *   cases:
 *     - name: a coder writes in the workspace
 *       agent: coder
 *       user: alice                       # optional: a delegated call
 *       session: { untrusted_content: true, calls: 3 }   # optional facts
 *       annotations: { destructiveHint: true }           # optional
 *       sandbox: { profile: default }                    # optional
 *       action: fs.write                  # either an action and its resource…
 *       resource: { file: /workspace/src/app.ts }
 *       # tool: fs_write                  # …or a tool and its input
 *       # input: { path: src/app.ts, content: "x" }
 *       expect: allow                     # allow | deny | require_approval
 *       policy: coding-read-write-workspace   # optional: must be among the deciding policies
 *
 * Unknown keys are errors, so a typo (`expected:`) cannot make a case vacuous.
 */

export type PolicyTestTarget =
  | { readonly kind: 'action'; readonly action: string; readonly resource: AuthzResource }
  | { readonly kind: 'tool'; readonly tool: string; readonly input: unknown };

export interface PolicyTestCase {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly agent: string;
  readonly user: string | null;
  readonly session: SessionFacts;
  readonly sandboxProfile: string;
  /** Explicit annotations; for tool cases, these override what the resolver says. */
  readonly annotations: ToolAnnotations | null;
  readonly target: PolicyTestTarget;
  readonly expect: DecisionResult;
  readonly policy: string | null;
}

export interface PolicyTestFile {
  readonly file: string;
  readonly agents: ReadonlyMap<string, PrincipalFacts>;
  readonly users: ReadonlyMap<string, PrincipalFacts>;
  readonly cases: readonly PolicyTestCase[];
}

type Obj = Record<string, unknown>;

const CASE_KEYS = ['name', 'agent', 'user', 'session', 'annotations', 'sandbox', 'action', 'resource', 'tool', 'input', 'expect', 'policy'];
const RESULTS: readonly DecisionResult[] = ['allow', 'deny', 'require_approval'];

export function parsePolicyTestFile(file: string, text: string): PolicyTestFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const line = lineCounter.linePos(firstError.pos[0]).line;
    fail(file, line, firstError.message.split('\n')[0] ?? 'invalid YAML');
  }
  const lineOf = (path: (string | number)[]): number => {
    const node = doc.getIn(path, true);
    return isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : 1;
  };
  const root = doc.toJS() as unknown;
  if (!isObj(root)) fail(file, 1, 'expected a mapping with `cases:` (and optionally `agents:` and `users:`)');
  onlyKeys(root, ['agents', 'users', 'cases'], file, 1, 'the file');

  const principals = (key: 'agents' | 'users'): Map<string, PrincipalFacts> => {
    const out = new Map<string, PrincipalFacts>();
    const defs = root[key] ?? {};
    if (!isObj(defs)) fail(file, lineOf([key]), `\`${key}\` must map ids to { groups, attributes }`);
    for (const [id, def] of Object.entries(defs)) {
      const line = lineOf([key, id]);
      const d = def ?? {};
      if (!isObj(d)) fail(file, line, `${key}.${id} must be a mapping with groups and attributes`);
      onlyKeys(d, ['groups', 'attributes'], file, line, `${key}.${id}`);
      const groups = d.groups ?? [];
      if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) fail(file, line, `${key}.${id}.groups must be a list of strings`);
      const attributes = d.attributes ?? {};
      if (!isObj(attributes) || !Object.values(attributes).every((v) => typeof v === 'string')) fail(file, line, `${key}.${id}.attributes must map names to strings`);
      out.set(id, { id, groups: groups as string[], attributes: attributes as Record<string, string> });
    }
    return out;
  };
  const agents = principals('agents');
  const users = principals('users');

  const list = root.cases;
  if (!Array.isArray(list)) fail(file, lineOf(['cases']), '`cases` must be a list');
  const cases = list.map((raw: unknown, i: number) => parseCase(file, lineOf(['cases', i]), raw, i));
  return { file, agents, users, cases };
}

function parseCase(file: string, line: number, raw: unknown, index: number): PolicyTestCase {
  if (!isObj(raw)) fail(file, line, `case ${index + 1} must be a mapping`);
  onlyKeys(raw, CASE_KEYS, file, line, `case ${index + 1}`);
  const str = (key: string, required: boolean): string | null => {
    const v = raw[key];
    if (v === undefined || v === null) {
      if (required) fail(file, line, `case ${index + 1}: \`${key}\` is required`);
      return null;
    }
    if (typeof v !== 'string' || v === '') fail(file, line, `case ${index + 1}: \`${key}\` must be a non-empty string`);
    return v;
  };
  const name = str('name', false) ?? `case ${index + 1}`;
  const expect = str('expect', true) as DecisionResult;
  if (!RESULTS.includes(expect)) fail(file, line, `${name}: \`expect\` must be one of ${RESULTS.join(', ')}`);

  let target: PolicyTestTarget;
  const action = str('action', false);
  const tool = str('tool', false);
  if ((action === null) === (tool === null)) fail(file, line, `${name}: give either \`action\` with \`resource\`, or \`tool\` with \`input\``);
  if (action !== null) {
    if (raw.input !== undefined) fail(file, line, `${name}: \`input\` goes with \`tool\`, not \`action\``);
    target = { kind: 'action', action, resource: parseResource(raw.resource, file, line, name) };
  } else {
    if (raw.resource !== undefined) fail(file, line, `${name}: \`resource\` goes with \`action\`; a tool derives its resource from \`input\``);
    target = { kind: 'tool', tool: tool ?? '', input: raw.input ?? {} };
  }

  return {
    file,
    line,
    name,
    agent: str('agent', true) ?? '',
    user: str('user', false),
    session: parseSession(raw.session, file, line, name),
    sandboxProfile: parseSandbox(raw.sandbox, file, line, name),
    annotations: raw.annotations === undefined ? null : parseAnnotations(raw.annotations, file, line, name),
    target,
    expect,
    policy: str('policy', false),
  };
}

function parseResource(raw: unknown, file: string, line: number, name: string): AuthzResource {
  const help = 'resource must be one of { file: PATH }, { url: URL, method?: GET, trusted?: false }, { language: NAME }, { profile: NAME }';
  if (!isObj(raw)) fail(file, line, `${name}: ${help}`);
  if (typeof raw.file === 'string') {
    onlyKeys(raw, ['file'], file, line, `${name}: resource`);
    return { kind: 'file', path: raw.file };
  }
  if (typeof raw.url === 'string') {
    onlyKeys(raw, ['url', 'method', 'trusted'], file, line, `${name}: resource`);
    const method = raw.method ?? 'GET';
    const trusted = raw.trusted ?? false;
    if (typeof method !== 'string' || typeof trusted !== 'boolean') fail(file, line, `${name}: resource.method must be a string and resource.trusted a boolean`);
    const url = parseUrlResource(raw.url, method, trusted);
    if (url === null) fail(file, line, `${name}: resource.url must be an absolute http(s) or ws(s) URL with a host`);
    return url;
  }
  if (typeof raw.language === 'string') {
    onlyKeys(raw, ['language'], file, line, `${name}: resource`);
    return { kind: 'language', language: raw.language };
  }
  if (typeof raw.profile === 'string') {
    onlyKeys(raw, ['profile'], file, line, `${name}: resource`);
    return { kind: 'profile', profile: raw.profile };
  }
  return fail(file, line, `${name}: ${help}`);
}

function parseSession(raw: unknown, file: string, line: number, name: string): SessionFacts {
  const facts = emptySessionFacts();
  if (raw === undefined || raw === null) return facts;
  if (!isObj(raw)) fail(file, line, `${name}: session must be a mapping of facts`);
  onlyKeys(raw, Object.keys(facts), file, line, `${name}: session`);
  return { ...facts, ...raw } as SessionFacts;
}

function parseAnnotations(raw: unknown, file: string, line: number, name: string): ToolAnnotations {
  if (!isObj(raw)) fail(file, line, `${name}: annotations must be a mapping`);
  onlyKeys(raw, Object.keys(NO_ANNOTATIONS), file, line, `${name}: annotations`);
  return { ...NO_ANNOTATIONS, ...raw } as ToolAnnotations;
}

function parseSandbox(raw: unknown, file: string, line: number, name: string): string {
  if (raw === undefined || raw === null) return 'default';
  if (!isObj(raw) || typeof raw.profile !== 'string') fail(file, line, `${name}: sandbox must be { profile: NAME }`);
  onlyKeys(raw, ['profile'], file, line, `${name}: sandbox`);
  return raw.profile;
}

function onlyKeys(o: Obj, allowed: readonly string[], file: string, line: number, what: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) fail(file, line, `${what}: unknown key \`${key}\` (expected one of ${allowed.join(', ')})`);
  }
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function fail(file: string, line: number, reason: string): never {
  throw new CordonError('CONFIG_INVALID', `${file}:${line}: ${reason}`, { details: { source: 'policy tests', file, line, reason } });
}
