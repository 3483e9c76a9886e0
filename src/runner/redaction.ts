import { compileRedaction } from '../egress/index.ts';

/**
 * Removes known secret values — and their URL-encoded, hex and base64 spellings —
 * from anything going back to the caller or into logs and audit. Compiled once;
 * each text is one linear pass however many secrets there are.
 */
export interface Redactor {
  text(value: string): string;
  /** Deep copy of JSON-like data with every string redacted (keys too). */
  value<T>(value: T): T;
  readonly active: boolean;
}

export function createRedactor(secrets: Iterable<string>): Redactor {
  // Values shorter than 4 characters would mask ordinary text, not secrets.
  const values = [...new Set(secrets)].filter((s) => s.length >= 4);
  const compiled = compileRedaction(values);
  const text = (s: string): string => compiled.text(s);
  const deep = (v: unknown): unknown => {
    if (typeof v === 'string') return text(v);
    if (Array.isArray(v)) return v.map(deep);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[text(k)] = deep(x);
      return out;
    }
    return v;
  };
  return {
    active: values.length > 0,
    text: values.length === 0 ? (s) => s : text,
    value: <T>(v: T): T => (values.length === 0 ? v : (deep(v) as T)),
  };
}
