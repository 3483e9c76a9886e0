type Schema = Readonly<Record<string, unknown>>;

/**
 * OpenAI's strict mode takes a subset of JSON Schema. The rules, from "Structured Outputs →
 * Supported schemas" (https://platform.openai.com/docs/guides/structured-outputs#supported-schemas),
 * which strict function calling shares (https://platform.openai.com/docs/guides/function-calling):
 * every object lists all its properties in `required` and sets `additionalProperties: false`;
 * an optional field is a union with null; the root is an object, not `anyOf`; only the
 * keywords below are accepted; at most 10 levels of nesting and 5000 properties.
 */
const KEPT = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'anyOf', 'description', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minItems', 'maxItems']);
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);
// Annotations a model does not need: dropped without losing a constraint.
const ANNOTATIONS = new Set(['title', '$comment', 'examples', 'default', '$schema', 'readOnly', 'writeOnly', 'deprecated']);
const MAX_DEPTH = 10;

export interface StrictConversion {
  /** The schema for `parameters` with `strict: true`. */
  readonly schema: Schema;
  /** Constraints strict mode cannot state, in words (`/path: maxLength 1024`): Cordon's server still checks each one. */
  readonly relaxed: readonly string[];
}

/** Thrown when a schema has no strict form at all (the tool is then offered with strict: false). */
export class NoStrictForm extends Error {}

function lengthWords(min: unknown, max: unknown): string {
  if (typeof min === 'number' && typeof max === 'number') return `${min} to ${max} characters`;
  if (typeof max === 'number') return `at most ${max} characters`;
  return `at least ${String(min)} characters`;
}

function nullable(schema: Schema): Schema {
  const { description, ...rest } = schema;
  const described = description === undefined ? {} : { description };
  if (Array.isArray(rest.anyOf)) return { ...schema, anyOf: [...(rest.anyOf as unknown[]), { type: 'null' }] };
  if (Array.isArray(rest.enum)) return { ...schema, enum: [...(rest.enum as unknown[]), null], ...(typeof rest.type === 'string' ? { type: [rest.type, 'null'] } : {}) };
  if ('const' in rest) return { ...described, anyOf: [rest, { type: 'null' }] };
  if (typeof rest.type === 'string') return { ...schema, type: [rest.type, 'null'] };
  return { ...described, anyOf: [rest, { type: 'null' }] };
}

/** Whether a schema already lets null through (then null cannot also mean "absent"). */
export function acceptsNull(schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return false;
  const s = schema as Schema;
  if (s.type === 'null' || (Array.isArray(s.type) && s.type.includes('null'))) return true;
  if (Array.isArray(s.enum) && s.enum.includes(null)) return true;
  if ('const' in s && s.const === null) return true;
  return [s.anyOf, s.oneOf].some((u) => Array.isArray(u) && u.some(acceptsNull));
}

function convert(schema: unknown, path: string, depth: number, relaxed: string[]): Schema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new NoStrictForm(`${path || '/'}: a schema that is not an object`);
  const s = schema as Schema;
  if (depth > MAX_DEPTH) throw new NoStrictForm(`${path || '/'}: nested deeper than ${MAX_DEPTH} levels`);
  const out: Record<string, unknown> = {};
  const notes: string[] = [];
  for (const [key, value] of Object.entries(s)) {
    if (KEPT.has(key) || ANNOTATIONS.has(key)) continue;
    if (key === 'minLength' || key === 'maxLength') continue;
    if (key === 'oneOf') continue;
    if (key === '$ref' || key === '$defs' || key === 'definitions') throw new NoStrictForm(`${path || '/'}: ${key} (inline the definitions)`);
    relaxed.push(`${path || '/'}: ${key} ${JSON.stringify(value)}`);
  }
  if (s.minLength !== undefined || s.maxLength !== undefined) {
    notes.push(lengthWords(s.minLength, s.maxLength));
    relaxed.push(`${path || '/'}: ${['minLength', 'maxLength'].filter((k) => s[k] !== undefined).map((k) => `${k} ${String(s[k])}`).join(', ')}`);
  }
  for (const key of KEPT) {
    if (!(key in s)) continue;
    const value = s[key];
    if (key === 'format' && !FORMATS.has(String(value))) {
      relaxed.push(`${path || '/'}: format ${JSON.stringify(value)}`);
      continue;
    }
    if (key === 'properties' || key === 'required' || key === 'additionalProperties' || key === 'items' || key === 'anyOf') continue;
    out[key] = value;
  }
  const union = (s.anyOf ?? s.oneOf) as unknown;
  if (Array.isArray(union)) {
    // oneOf has no strict form; anyOf is the same set whenever the branches cannot both match
    // (as with browse.page's actions, told apart by their `type` const). Where they could,
    // "exactly one" is left to Cordon's own validation.
    if (s.oneOf !== undefined) relaxed.push(`${path || '/'}: oneOf read as anyOf`);
    out.anyOf = union.map((branch, i) => convert(branch, `${path}/${s.oneOf === undefined ? 'anyOf' : 'oneOf'}/${i}`, depth, relaxed));
  }
  const isObject = s.type === 'object' || (s.properties !== undefined && s.type === undefined);
  if (isObject) {
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) throw new NoStrictForm(`${path || '/'}: an object with open-ended keys`);
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    const required = new Set((s.required ?? []) as string[]);
    const converted: Record<string, unknown> = {};
    for (const [name, property] of Object.entries(properties)) {
      const inner = convert(property, `${path}/${name}`, depth + 1, relaxed);
      if (required.has(name)) converted[name] = inner;
      else if (acceptsNull(property)) throw new NoStrictForm(`${path}/${name}: optional and nullable, so null cannot stand for "absent"`);
      else converted[name] = nullable(inner);
    }
    out.type = 'object';
    out.properties = converted;
    out.required = Object.keys(properties);
    out.additionalProperties = false;
  }
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) throw new NoStrictForm(`${path || '/'}: tuple items`);
    out.items = convert(s.items, `${path}/items`, depth, relaxed);
  }
  if (out.type === undefined && out.enum === undefined && out.const === undefined && out.anyOf === undefined) throw new NoStrictForm(`${path || '/'}: a value of any type`);
  if (notes.length > 0) out.description = `${typeof out.description === 'string' ? `${out.description} ` : ''}(${notes.join('; ')})`;
  return out;
}

/** A tool's inputSchema in its strict form, or NoStrictForm. */
export function toStrictSchema(inputSchema: Schema): StrictConversion {
  if (inputSchema.type !== 'object') throw new NoStrictForm('/: the root is not an object');
  const relaxed: string[] = [];
  const schema = convert(inputSchema, '', 1, relaxed);
  return { schema, relaxed };
}

/**
 * Strict mode makes the model send every field, null for the ones it leaves out. Before Cordon
 * validates the input, those nulls become absent again — only where the tool's own schema made
 * the field optional and does not accept null itself, so no real value is ever dropped.
 */
export function restoreAbsent(value: unknown, schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null) return value;
  const s = schema as Schema;
  if (Array.isArray(value)) return s.items === undefined || Array.isArray(s.items) ? value : value.map((v) => restoreAbsent(v, s.items));
  if (typeof value !== 'object' || value === null) return value;
  const union = (s.anyOf ?? s.oneOf) as unknown;
  if (Array.isArray(union)) {
    // The branch this object is for: the first whose `const` fields (a discriminator such as
    // browse.page's action `type`) all match. None matching: left as sent, for Cordon to refuse.
    const branch = union.find((b: Schema) => typeof b === 'object' && b !== null && Object.entries((b.properties ?? {}) as Record<string, Schema>).every(([k, p]) => !('const' in p) || (value as Record<string, unknown>)[k] === p.const));
    return branch === undefined ? value : restoreAbsent(value, branch);
  }
  if (s.properties === undefined) return value;
  const properties = s.properties as Record<string, unknown>;
  const required = new Set((s.required ?? []) as string[]);
  const entries: [string, unknown][] = [];
  for (const [key, v] of Object.entries(value)) {
    const property = Object.hasOwn(properties, key) ? properties[key] : undefined;
    if (v === null && property !== undefined && !required.has(key) && !acceptsNull(property)) continue;
    entries.push([key, property === undefined ? v : restoreAbsent(v, property)]);
  }
  // fromEntries defines own properties: no key can reach a prototype.
  return Object.fromEntries(entries);
}
