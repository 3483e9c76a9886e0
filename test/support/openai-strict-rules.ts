/**
 * A checker of OpenAI's strict-mode schema rules, written from OpenAI's documentation and
 * independently of the adapter that converts schemas (src/client/adapters/strict-schema.ts):
 *
 *   Structured Outputs → "Supported schemas"
 *   https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
 *   (strict function calling uses the same subset: https://platform.openai.com/docs/guides/function-calling,
 *   "Strict mode").
 *
 * The rules, as that page states them:
 *  - supported types: string, number, boolean, integer, object, array, enum, anyOf (null in unions);
 *  - supported properties: strings pattern, format (date-time, time, date, duration, email,
 *    hostname, ipv4, ipv6, uuid); numbers multipleOf, maximum, exclusiveMaximum, minimum,
 *    exclusiveMinimum; arrays minItems, maxItems;
 *  - the root must be an object and must not be anyOf;
 *  - all fields must be required (an optional field is a union with null);
 *  - additionalProperties: false must always be set in objects;
 *  - at most 5000 object properties in all, at most 10 levels of nesting;
 *  - at most 120,000 characters of property names, definition names, enum values and const
 *    values in all; at most 1000 enum values in all, and a string enum of over 250 values at
 *    most 15,000 characters;
 *  - composition keywords are not supported (allOf, not, dependentRequired, dependentSchemas,
 *    if, then, else), and oneOf is refused ("'oneOf' is not permitted");
 *  - definitions ($defs) and references to them, or to the root (#), are supported.
 * Anything not listed as supported is treated as unsupported (an allow-list: the safe reading).
 */

type Schema = Record<string, unknown>;

const TYPES = new Set(['string', 'number', 'boolean', 'integer', 'object', 'array', 'null']);
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);
const ALLOWED = new Set([
  'type', 'description', 'enum', 'const', 'anyOf', '$ref', '$defs',
  'properties', 'required', 'additionalProperties',
  'items', 'minItems', 'maxItems',
  'pattern', 'format',
  'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
]);
export const LIMITS = { properties: 5000, nesting: 10, chars: 120_000, enumValues: 1000, bigEnumValues: 250, bigEnumChars: 15_000 } as const;

/** Every rule the schema (a function's `parameters`) breaks; empty when strict mode accepts it. */
export function strictSchemaProblems(root: unknown): string[] {
  const problems: string[] = [];
  let properties = 0;
  let chars = 0;
  let enumValues = 0;
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return ['/: the root is not a schema object'];
  const r = root as Schema;
  if (r.type !== 'object') problems.push('/: the root must be type object');
  if ('anyOf' in r) problems.push('/: the root must not be anyOf');
  const defs = (r.$defs ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(defs)) chars += name.length;

  const walk = (node: unknown, at: string, objectDepth: number): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      problems.push(`${at}: not a schema object`);
      return;
    }
    const s = node as Schema;
    for (const key of Object.keys(s)) if (!ALLOWED.has(key)) problems.push(`${at}: ${key} is not supported`);
    if ('$ref' in s) {
      const ref = String(s.$ref);
      const name = ref.startsWith('#/$defs/') ? ref.slice('#/$defs/'.length) : undefined;
      if (ref !== '#' && (name === undefined || !Object.hasOwn(defs, name))) problems.push(`${at}: $ref ${ref} does not point at the root or a definition`);
      return;
    }
    const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
    for (const t of types) if (!TYPES.has(String(t))) problems.push(`${at}: type ${String(t)} is not supported`);
    if (types.length === 0 && !('enum' in s) && !('const' in s) && !('anyOf' in s)) problems.push(`${at}: no type`);
    if ('format' in s && !FORMATS.has(String(s.format))) problems.push(`${at}: format ${String(s.format)} is not supported`);
    if (Array.isArray(s.enum)) {
      enumValues += s.enum.length;
      const strings = s.enum.filter((v): v is string => typeof v === 'string');
      const length = strings.reduce((n, v) => n + v.length, 0);
      chars += length;
      if (strings.length > LIMITS.bigEnumValues && length > LIMITS.bigEnumChars) problems.push(`${at}: an enum of over ${LIMITS.bigEnumValues} strings is over ${LIMITS.bigEnumChars} characters`);
    }
    if (typeof s.const === 'string') chars += s.const.length;
    const isObject = types.includes('object') || 'properties' in s;
    if (isObject) {
      if (objectDepth > LIMITS.nesting) problems.push(`${at}: nested deeper than ${LIMITS.nesting} levels`);
      if (s.additionalProperties !== false) problems.push(`${at}: additionalProperties must be false`);
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s.required) ? (s.required as unknown[]) : [];
      for (const name of Object.keys(props)) {
        properties += 1;
        chars += name.length;
        if (!required.includes(name)) problems.push(`${at}/${name}: every property must be in required (use a union with null for an optional one)`);
        walk(props[name], `${at}/properties/${name}`, objectDepth + 1);
      }
      for (const name of required) if (!Object.hasOwn(props, String(name))) problems.push(`${at}: required names ${String(name)}, which is not a property`);
    }
    if ('items' in s) walk(s.items, `${at}/items`, objectDepth);
    if ('anyOf' in s) {
      if (!Array.isArray(s.anyOf)) problems.push(`${at}: anyOf must be a list`);
      else s.anyOf.forEach((b, i) => walk(b, `${at}/anyOf/${i}`, objectDepth));
    }
  };
  walk(r, '', 1);
  for (const [name, def] of Object.entries(defs)) walk(def, `/$defs/${name}`, 1);
  if (properties > LIMITS.properties) problems.push(`/: ${properties} object properties; at most ${LIMITS.properties}`);
  if (chars > LIMITS.chars) problems.push(`/: ${chars} characters of names and values; at most ${LIMITS.chars}`);
  if (enumValues > LIMITS.enumValues) problems.push(`/: ${enumValues} enum values; at most ${LIMITS.enumValues}`);
  return problems;
}
