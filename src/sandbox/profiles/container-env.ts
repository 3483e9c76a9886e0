import { isScalar, type Node } from 'yaml';
import { fieldPath, readFields, readMapping, readString, type LocatedYaml } from './located-yaml.ts';

export const MAX_ENV_ENTRIES = 64;
export const MAX_ENV_VALUE_CHARS = 4096;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
// Any Unicode control character (C0, DEL, C1) but tab.
const CONTROL = /(?!\t)\p{Cc}/u;

/**
 * Names Cordon sets in every container itself: PATH and HOME so code finds the
 * image's programs and a writable home, the proxy variables so whatever
 * network a sandbox has goes through Cordon's egress proxy, the one place its
 * policy is enforced and audited. A profile that set them could point code's
 * HTTP clients somewhere else. Matched whatever the case: clients differ in
 * which spelling they read (curl takes http_proxy, not HTTP_PROXY).
 */
const RESERVED = new Set(['PATH', 'HOME', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY']);
/** Cordon's own channel to code in the sandbox (its identity, its session). */
const RESERVED_PREFIX = 'CORDON_';

/**
 * A container profile's `env`: a mapping of NAME: "value", read as hostile
 * input (profiles come from operators' repositories). Values must be strings
 * already: `3` or `true` would reach the process as text anyway, so the profile
 * says so with quotes. Returns undefined after reporting any problem.
 */
export function readContainerEnv(at: LocatedYaml, node: Node, field: string): Readonly<Record<string, string>> | undefined {
  const map = readMapping(at, node, field);
  if (map === null) return undefined;
  // Counted before any entry is read: a flood of entries is one problem, not thousands.
  if (map.items.length > MAX_ENV_ENTRIES) {
    at.fail(node, field, `has ${map.items.length} variables; at most ${MAX_ENV_ENTRIES} are allowed`);
    return undefined;
  }
  const before = at.problems.length;
  const entries: [string, string][] = [];
  for (const [name, { key, value }] of readFields(at, map, field)) {
    if (!ENV_NAME.test(name)) {
      // Such a name may hold anything: it goes into the message quoted, never into the field.
      const quoted = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
      at.fail(key, `${field}.(key)`, `${quoted} is not an environment variable name; use letters, digits and "_", not starting with a digit (at most 128)`);
      continue;
    }
    const where = fieldPath(field, name);
    const reserved = reservedBecause(name);
    if (reserved !== null) {
      at.fail(key, where, reserved);
      continue;
    }
    const v = envValue(at, key, value, where, name);
    if (v !== null) entries.push([name, v]);
  }
  if (at.problems.length > before) return undefined;
  // fromEntries defines own properties, so even a name like __proto__ stays a plain entry.
  return Object.freeze(Object.fromEntries(entries));
}

function reservedBecause(name: string): string | null {
  const upper = name.toUpperCase();
  if (RESERVED.has(upper)) return `is set by Cordon (the sandbox's ${upper === 'PATH' || upper === 'HOME' ? upper : 'egress proxy'}); remove it from env`;
  if (upper.startsWith(RESERVED_PREFIX)) return `is set by Cordon: names starting with ${RESERVED_PREFIX} are reserved for it; rename the variable`;
  return null;
}

function envValue(at: LocatedYaml, key: Node, value: Node | null, field: string, name: string): string | null {
  if (value === null) {
    at.fail(key, field, `has no value; write ${name}: "" for an empty string`);
    return null;
  }
  if (isScalar(value) && typeof value.value !== 'string') {
    const source = typeof value.source === 'string' ? value.source : String(value.value);
    at.fail(value, field, `${source} is a ${typeof value.value}, not a string; quote it: ${name}: "${source}"`);
    return null;
  }
  const v = readString(at, value, field);
  if (v === null) return null;
  if (v.length > MAX_ENV_VALUE_CHARS) {
    at.fail(value, field, `is ${v.length} characters; at most ${MAX_ENV_VALUE_CHARS} are allowed`);
    return null;
  }
  const control = CONTROL.exec(v);
  if (control !== null) {
    const code = `U+${(control[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    at.fail(value, field, `holds the control character ${code} at character ${control.index + 1}; only tab is allowed (write the value on one line)`);
    return null;
  }
  return v;
}
