/** Removes known secret values from anything going back to the caller or into logs and audit. */
export interface Redactor {
  text(value: string): string;
  /** Deep copy of JSON-like data with every string redacted (keys too). */
  value<T>(value: T): T;
  readonly active: boolean;
}

const MASK = '[redacted]';

export function createRedactor(secrets: Iterable<string>): Redactor {
  // Longest first, so a secret that contains another is masked whole.
  const values = [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  const text = (s: string): string => {
    let out = s;
    for (const v of values) if (out.includes(v)) out = out.split(v).join(MASK);
    return out;
  };
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
