import { CordonError } from '../core/errors.ts';

export type PlainObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges objects key by key; arrays and scalars from `over` replace those in `base`. */
export function deepMerge(base: PlainObject, over: PlainObject): PlainObject {
  const out: PlainObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    // A config file is data from disk: never let it reach Object.prototype.
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      throw new CordonError('CONFIG_INVALID', `config key "${key}" is not allowed`, { details: { field: key } });
    }
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

export function hasPath(obj: PlainObject, path: readonly string[]): boolean {
  let cur: unknown = obj;
  for (const key of path) {
    if (isPlainObject(cur) && Object.hasOwn(cur, key)) cur = cur[key];
    else if (Array.isArray(cur) && /^\d+$/.test(key) && Number(key) < cur.length) cur = cur[Number(key)];
    else return false;
  }
  return true;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
