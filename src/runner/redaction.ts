import { compileRedaction } from '../egress/index.ts';
import { redactCredentialShapes } from './credential-shapes.ts';
import type { AuditRecord, AuditSink } from '../audit/audit-sink.ts';

/**
 * Removes known secret values — and their URL-encoded, hex and base64 spellings — and
 * anything shaped like a credential (credential-shapes.ts) from anything going back to the
 * caller or into the audit log. Compiled once; each pattern is one linear pass.
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
  const text = (s: string): string => redactCredentialShapes(values.length === 0 ? s : compiled.text(s));
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
    active: true,
    text,
    value: <T>(v: T): T => deep(v) as T,
  };
}

/**
 * The audit sink, with every string of every record redacted on the way in. The redactor is
 * read when a record arrives (it is made after the sink, with the egress secrets).
 */
export function redactingAuditSink(inner: AuditSink, redactor: () => Redactor | null): AuditSink {
  return {
    // async: a record the redactor chokes on is a failed append (a rejection), never a throw into the caller.
    append: async (record) => inner.append(redactor()?.value(record) ?? redactCredentialShapesIn(record)),
    close: () => inner.close(),
  };
}

const shapesOnly = createRedactor([]);
function redactCredentialShapesIn(record: AuditRecord): AuditRecord {
  return shapesOnly.value(record);
}
