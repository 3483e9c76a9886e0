import { basename } from 'node:path';
import { isMap, isScalar, type Node, type YAMLMap } from 'yaml';
import { deepFreeze } from '../../config/merge.ts';
import { fieldPath, readFields, type Fields, readInteger, readLocatedYaml, readMapping, readNumber, readSequence, readString, type LocatedYaml } from './located-yaml.ts';
import { BACKENDS, backendOwning, backendSpec, SUPPORTED_BACKENDS, type BackendSpec, type NumberRange } from './profile-backends.ts';
import { profileError, type ProfileBackend, type SandboxProfile, type SandboxProfileProblem } from './sandbox-profile.ts';

// Same shapes as the names they refer to: profile and egress policy names
// (parse-egress-policy.ts), tool names (tool-registry.ts).
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const TOOL_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const MAX_DESCRIPTION_CHARS = 1024;
const MIB = 1024 * 1024;

const COMMON_FIELDS = ['name', 'backend', 'description', 'languages', 'tools', 'egressPolicy', 'sensitivePaths', 'limits', 'session'] as const;
/** A sensitive-path glob: workspace-relative, no '..', no NUL or control characters, no backslash. */
const MAX_GLOB_CHARS = 256;
const LIMITS: Readonly<Record<keyof SandboxProfile['limits'], NumberRange>> = {
  memoryMb: { min: 8, max: 4096, integer: true },
  maxMemoryMb: { min: 8, max: 4096, integer: true },
  timeoutMs: { min: 1, max: 3_600_000, integer: true },
  maxTimeoutMs: { min: 1, max: 3_600_000, integer: true },
  outputBytes: { min: 1, max: 64 * MIB, integer: true },
  resultBytes: { min: 1, max: 64 * MIB, integer: true },
};
const SESSION: Readonly<Record<keyof SandboxProfile['session'], NumberRange>> = {
  idleTtlMs: { min: 1000, max: 86_400_000, integer: true },
  maxTtlMs: { min: 1000, max: 7 * 86_400_000, integer: true },
  maxPerPrincipal: { min: 1, max: 10_000, integer: true },
};
/** Pairs where the second may never sit below the first, and why. */
const AT_LEAST: ReadonlyArray<readonly [section: 'limits' | 'session', low: string, high: string, why: string]> = [
  ['limits', 'memoryMb', 'maxMemoryMb', 'the most a call may ask for cannot be less than the default'],
  ['limits', 'timeoutMs', 'maxTimeoutMs', 'the most a call may ask for cannot be less than the default'],
  ['session', 'idleTtlMs', 'maxTtlMs', 'a session cannot end before it could first go idle'],
];

/** Line of each field as read (`tools[1]`, `egressPolicy`), for checks made after parsing. */
const FIELD_LINES = new WeakMap<SandboxProfile, ReadonlyMap<string, number>>();

/** The line a field of a parsed profile came from; 0 when unknown. */
export function profileFieldLine(profile: SandboxProfile, field: string): number {
  return FIELD_LINES.get(profile)?.get(field) ?? 0;
}

/** The profile name a file must declare: its basename without `.yaml` / `.yml`. */
export function profileNameOf(file: string): string {
  return basename(file).replace(/\.ya?ml$/, '');
}

/**
 * Parses one profile. Throws CONFIG_INVALID: `<file>:<line>: <field>: <reason>`
 * for the first problem (one line each for the rest), details {file, line,
 * field, reason, problems}.
 */
export function parseSandboxProfile(text: string, file: string): SandboxProfile {
  const result = compileSandboxProfile(text, file);
  if ('problems' in result) throw profileError(result.problems);
  return result.profile;
}

/** Like parseSandboxProfile, but returns every problem instead of throwing. */
export function compileSandboxProfile(text: string, file: string): { profile: SandboxProfile } | { problems: readonly SandboxProfileProblem[] } {
  const read = readLocatedYaml(text, file);
  if (!('root' in read)) return { problems: byLine(read.at.problems) };
  const { root, at } = read;
  if (!isMap(root)) {
    at.fail(root, '(file)', `a profile must be a mapping with ${COMMON_FIELDS.join(', ')}`);
    return { problems: at.problems };
  }
  const r = new ProfileReader(at);
  const fields = readFields(at, root, '');

  // The backend decides which other fields exist, so it is read first.
  const backendNode = r.take(fields, root, '', 'backend');
  let backend: ProfileBackend | null = null;
  let spec: BackendSpec | undefined;
  if (backendNode !== null) {
    const v = readString(at, backendNode, 'backend');
    spec = v === null ? undefined : backendSpec(v);
    if (v !== null && spec === undefined) at.fail(backendNode, 'backend', `"${v}" is not supported; supported backends: ${SUPPORTED_BACKENDS.join(', ')}`);
    if (spec !== undefined) backend = v as ProfileBackend;
  }
  // With no valid backend, any backend's field is tolerated here: the backend
  // is the problem to report, not a cascade of "unknown field".
  const allBackends = Object.values(BACKENDS);
  const extraFields = spec === undefined ? allBackends.flatMap((b) => Object.keys(b.fields)) : Object.keys(spec.fields);
  const extraLimits = spec === undefined ? allBackends.flatMap((b) => Object.keys(b.limits)) : [];
  const what = backend === null ? 'a profile' : `a profile with backend ${backend}`;
  r.refuseUnknown(fields, '', [...COMMON_FIELDS, ...extraFields], what, backend);

  const name = r.name(fields, root, file);
  const description = r.description(fields, root);
  const languages = r.languages(fields, root, spec);
  const tools = r.names(fields, root, 'tools', TOOL_NAME, 'a tool name: lower case letters, digits, ".", "_" or "-", starting with a letter');
  const egressPolicy = r.egressPolicy(fields, root);
  // The one optional field: a profile that names no sensitive paths has none.
  const sensitivePaths = fields.has('sensitivePaths') ? r.list(fields, root, 'sensitivePaths', checkSensitiveGlob) : [];
  const allLimits = r.numbers(fields, root, 'limits', { ...LIMITS, ...spec?.limits }, extraLimits, what, backend);
  const session = r.numbers(fields, root, 'session', SESSION, [], what, backend);
  const extra: Record<string, unknown> = {};
  for (const [key, readField] of Object.entries(spec?.fields ?? {})) {
    const node = r.take(fields, root, '', key);
    if (node !== null) extra[key] = readField(at, node, key);
  }

  if (at.problems.length > 0) return { problems: byLine(at.problems) };
  if (backend === null || spec === undefined || name === null || description === null || languages === null || tools === null || egressPolicy === undefined || sensitivePaths === null || allLimits === null || session === null) {
    // Every reader reports before it returns nothing; fail loudly if one did not.
    throw new Error(`sandbox profile ${file}: a field was refused without a reason`);
  }
  // The common limits stay in `limits`; a backend's own go to its settings.
  const limits: Record<string, number> = {};
  const backendLimits: Record<string, number> = {};
  for (const [key, value] of Object.entries(allLimits)) (Object.hasOwn(LIMITS, key) ? limits : backendLimits)[key] = value;
  const profile: SandboxProfile = deepFreeze({
    name,
    file,
    backend,
    description,
    languages,
    tools,
    egressPolicy,
    sensitivePaths,
    limits: limits as unknown as SandboxProfile['limits'],
    session: session as unknown as SandboxProfile['session'],
    ...spec.settings(extra, backendLimits),
  });
  FIELD_LINES.set(profile, r.lines);
  return { profile };
}

function checkSensitiveGlob(v: string): string | null {
  if (v === '' || v.length > MAX_GLOB_CHARS) return `must be a glob of 1 to ${MAX_GLOB_CHARS} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/u.test(v)) return `"${v}" holds a control character or a backslash; use "/" between parts`;
  if (v.startsWith('/')) return `"${v}" is absolute; sensitive paths are relative to the workspace (".env", "**/*.pem", ".git/config")`;
  if (v.split('/').some((part) => part === '..' || part === '.' || part === '')) return `"${v}" must not hold empty, "." or ".." parts`;
  return null;
}

function unknownField(key: string, known: readonly string[], what: string, owner: ProfileBackend | undefined): string {
  const near = known.find((k) => k.toLowerCase() === key.toLowerCase()) ?? known.find((k) => editDistance(k, key) <= 2);
  const elsewhere = owner === undefined ? '' : `; ${key} is a field of backend ${owner}`;
  return `unknown field${near === undefined ? '' : ` (did you mean "${near}"?)`}; ${what} has ${known.join(', ')}${elsewhere}`;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** Problems in file order (the sort is stable: one line's problems keep theirs). */
function byLine(problems: readonly SandboxProfileProblem[]): SandboxProfileProblem[] {
  return [...problems].sort((a, b) => a.line - b.line);
}

class ProfileReader {
  readonly lines = new Map<string, number>();
  readonly #at: LocatedYaml;

  constructor(at: LocatedYaml) {
    this.#at = at;
  }

  /** A required field's value, or null after saying it is missing or empty. */
  take(fields: Fields, parent: Node, prefix: string, key: string): Node | null {
    const field = fieldPath(prefix, key);
    const entry = fields.get(key);
    if (entry === undefined) {
      this.#at.fail(parent, field, 'missing; every profile states it');
      return null;
    }
    if (entry.value === null) {
      this.#at.fail(entry.key, field, 'has no value');
      return null;
    }
    this.lines.set(field, this.#at.lineOf(entry.value));
    return entry.value;
  }

  /** Refuses fields not in `known`; with a backend, says which other backend has a field it lacks. */
  refuseUnknown(fields: Fields, prefix: string, known: readonly string[], what: string, backend: ProfileBackend | null): void {
    for (const [key, { key: keyNode }] of fields) {
      if (known.includes(key)) continue;
      const section = prefix === '' ? 'top' : prefix === 'limits' ? 'limits' : null;
      const owner = backend === null || section === null ? undefined : backendOwning(section, key);
      this.#at.fail(keyNode, fieldPath(prefix, key), unknownField(key, known, what, owner));
    }
  }

  name(fields: Fields, root: YAMLMap, file: string): string | null {
    const node = this.take(fields, root, '', 'name');
    const v = node === null ? null : readString(this.#at, node, 'name');
    if (v === null) return null;
    if (!NAME.test(v)) this.#at.fail(node, 'name', `"${v}" must be lower case letters, digits, ".", "_" or "-", starting with a letter or digit (at most 63)`);
    else if (v !== profileNameOf(file)) {
      const fromFile = profileNameOf(file);
      this.#at.fail(node, 'name', `"${v}" must match the file name; rename the file to ${v}.yaml${NAME.test(fromFile) ? ` or set name: ${fromFile}` : ''}`);
    }
    else return v;
    return null;
  }

  description(fields: Fields, root: YAMLMap): string | null {
    const node = this.take(fields, root, '', 'description');
    const v = node === null ? null : readString(this.#at, node, 'description');
    if (v === null) return null;
    if (v.trim() === '') this.#at.fail(node, 'description', 'is empty; say what the profile is for');
    else if (v.length > MAX_DESCRIPTION_CHARS) this.#at.fail(node, 'description', `is ${v.length} characters; keep it under ${MAX_DESCRIPTION_CHARS}`);
    else return v;
    return null;
  }

  languages(fields: Fields, root: YAMLMap, spec: BackendSpec | undefined): string[] | null {
    const allowed = spec?.languages ?? null;
    return this.list(fields, root, 'languages', (v) =>
      allowed === null || allowed.includes(v) ? null : `"${v}" is not a language this backend runs; use ${allowed.join(', ')}`,
    );
  }

  names(fields: Fields, root: YAMLMap, key: string, pattern: RegExp, what: string): string[] | null {
    return this.list(fields, root, key, (v) => (pattern.test(v) ? null : `"${v}" is not ${what}`));
  }

  /** A non-empty list of distinct strings, each passing `check` (null: fine, else the reason). */
  list(fields: Fields, root: YAMLMap, key: string, check: (v: string) => string | null): string[] | null {
    const node = this.take(fields, root, '', key);
    const items = node === null ? null : readSequence(this.#at, node, key);
    if (node === null || items === null) return null;
    if (items.length === 0) {
      this.#at.fail(node, key, 'is empty; list at least one');
      return null;
    }
    const out: string[] = [];
    let ok = true;
    items.forEach((item, index) => {
      const field = `${key}[${index}]`;
      const v = readString(this.#at, item, field);
      const reason = v === null ? null : out.includes(v) ? `"${v}" is listed twice` : check(v);
      if (v === null || reason !== null) {
        if (reason !== null) this.#at.fail(item, field, reason);
        ok = false;
        return;
      }
      this.lines.set(field, this.#at.lineOf(item));
      out.push(v);
    });
    return ok ? out : null;
  }

  /** A policy name, or null for no network. undefined: invalid (reported). */
  egressPolicy(fields: Fields, root: YAMLMap): string | null | undefined {
    const entry = fields.get('egressPolicy');
    if (entry === undefined) {
      this.#at.fail(root, 'egressPolicy', 'missing; name an egress policy, or write "egressPolicy: null" for no network');
      return undefined;
    }
    this.lines.set('egressPolicy', this.#at.lineOf(entry.value ?? entry.key));
    if (entry.value === null) return null;
    const v = isScalar(entry.value) && typeof entry.value.value === 'string' ? entry.value.value : null;
    if (v === null || !NAME.test(v)) {
      this.#at.fail(entry.value, 'egressPolicy', 'must be the name of a policy in egress-policies/ (lower case letters, digits, ".", "_" or "-"), or null for no network');
      return undefined;
    }
    return v;
  }

  numbers(fields: Fields, root: YAMLMap, key: 'limits' | 'session', ranges: Readonly<Record<string, NumberRange>>, tolerated: readonly string[], what: string, backend: ProfileBackend | null): Record<string, number> | null {
    const node = this.take(fields, root, '', key);
    const map = node === null ? null : readMapping(this.#at, node, key);
    if (node === null || map === null) return null;
    const inner = readFields(this.#at, map, key);
    this.refuseUnknown(inner, key, [...Object.keys(ranges), ...tolerated], `"${key}" of ${what}`, backend);
    const out: Record<string, number> = {};
    let ok = true;
    for (const [name, range] of Object.entries(ranges)) {
      const valueNode = this.take(inner, map, key, name);
      const read = range.integer ? readInteger : readNumber;
      const v = valueNode === null ? null : read(this.#at, valueNode, `${key}.${name}`, range.min, range.max);
      if (v === null) ok = false;
      else out[name] = v;
    }
    for (const [section, low, high, why] of AT_LEAST) {
      const lo = out[low];
      const hi = out[high];
      if (section === key && lo !== undefined && hi !== undefined && hi < lo) {
        this.#at.fail(inner.get(high)?.value, `${key}.${high}`, `${hi} is below ${key}.${low} (${lo}); ${why}`);
        ok = false;
      }
    }
    return ok ? out : null;
  }
}
