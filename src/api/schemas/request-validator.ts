import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { CordonError } from '../../core/errors.ts';
import type { JsonSchema } from '../../tools/tool.ts';

/**
 * One part of a request (its body, its query, a path parameter) described by a JSON Schema
 * (2020-12, the dialect OpenAPI 3.1 uses) and parsed with that same schema: the route table
 * hands `schema` to /openapi.json and `parse` to the handler, so the two cannot drift.
 */
export interface RequestPart<T> {
  readonly schema: JsonSchema;
  /** Returns the validated value, or throws a typed CordonError naming the field. */
  parse(raw: unknown): T;
}

/**
 * Why a field failed, in words a caller can act on: keyed by JSON pointer (`/tool`), or by
 * pointer and keyword (`/tool:maxLength`) where one field fails in more than one way.
 * Without an entry, ajv's own words are used.
 */
export type FieldReasons = Readonly<Record<string, string>>;

// One instance for every request schema, compiled once when a server is built. Strict: a typo
// in a schema fails at start-up. No coercion, no defaults: the value a handler gets is the
// value the client sent, only checked.
const ajv = new Ajv2020({ strict: true, allErrors: false, coerceTypes: false, useDefaults: false, validateFormats: false });

/** The first error as `{field, reason}`: field a JSON pointer, `/` for the whole value. */
function firstFailure(errors: readonly ErrorObject[] | null | undefined, reasons: FieldReasons, unknown: string): { field: string; reason: string } {
  const err = errors?.[0];
  if (err === undefined) return { field: '/', reason: 'is invalid' };
  let field = err.instancePath === '' ? '/' : err.instancePath;
  const join = (name: string) => `${field === '/' ? '' : field}/${name.slice(0, 64)}`;
  if (err.keyword === 'additionalProperties') return { field: join(String((err.params as { additionalProperty: string }).additionalProperty)), reason: unknown };
  if (err.keyword === 'required') {
    field = join(String((err.params as { missingProperty: string }).missingProperty));
    return { field, reason: reasons[`${field}:required`] ?? reasons[field] ?? 'is required' };
  }
  return { field, reason: reasons[`${field}:${err.keyword}`] ?? reasons[field] ?? err.message ?? 'is invalid' };
}

/** A JSON body: failures are INPUT_INVALID `body/<field> <reason>`, as tool input failures read. */
export function bodyPart<T>(schema: JsonSchema, reasons: FieldReasons, after?: (value: T) => void): RequestPart<T> {
  const check = ajv.compile<T>(schema);
  return {
    schema,
    parse(raw) {
      if (!check(raw)) {
        const { field, reason } = firstFailure(check.errors, reasons, 'is not a known field');
        throw new CordonError('INPUT_INVALID', `body${field === '/' ? '' : field} ${reason}`, { details: { field, reason } });
      }
      after?.(raw);
      return raw;
    },
  };
}

/**
 * A query string. Values arrive as strings; a parameter the schema declares `integer` must be
 * plain digits (no sign, exponent, fraction or blank: `1e3`, `-0`, `` are refused, not
 * coerced), and is then checked as a number against the schema. A repeated parameter arrives
 * as an array and fails the schema's type.
 */
export function queryPart<T>(schema: JsonSchema, reasons: FieldReasons): RequestPart<T> {
  const check = ajv.compile<T>(schema);
  const properties = (schema.properties ?? {}) as Record<string, { type?: unknown; maximum?: unknown }>;
  const fail = (name: string, reason: string, known: boolean): never => {
    const field = `query/${name.slice(0, 64)}`;
    const shown = known ? reason : `${reason}; use ${Object.keys(properties).join(', ')}`;
    // A bounded parameter says its bound as a number, so a client can keep within it without reading prose.
    const maximum = known && Object.hasOwn(properties, name) ? properties[name]?.maximum : undefined;
    throw new CordonError('INPUT_INVALID', `query ${name.slice(0, 64)} ${shown}`, { details: { field, reason, ...(typeof maximum === 'number' ? { maximum } : {}) } });
  };
  return {
    schema,
    parse(raw) {
      const query = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      const typed: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(query)) {
        const declared = Object.hasOwn(properties, name) ? properties[name] : undefined;
        if (declared === undefined) fail(name, 'is not a known parameter', false);
        typed[name] = declared?.type === 'integer' && typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
      }
      if (!check(typed)) {
        const { field, reason } = firstFailure(check.errors, reasons, 'is not a known parameter');
        const name = field.replace(/^\//, '');
        fail(name, reason, true);
      }
      return typed as T;
    },
  };
}

/** A path parameter: a malformed one names nothing, so the route answers as for an unknown id. */
export function pathPart(schema: JsonSchema, notFound: (raw: string) => CordonError): RequestPart<string> {
  const check = ajv.compile<string>(schema);
  return {
    schema,
    parse(raw) {
      if (typeof raw !== 'string' || !check(raw)) throw notFound(String(raw));
      return raw;
    },
  };
}
