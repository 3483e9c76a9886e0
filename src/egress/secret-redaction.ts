import { Transform, type TransformCallback } from 'node:stream';
import { createMultiMatcher, type MultiMatcher } from './multi-matcher.ts';
import { secretSpellings } from './secret-encodings.ts';

/**
 * Removing known secret values from anything returned to a caller or written
 * to logs: the value itself and its URL-encoded, hex and base64 spellings
 * (secret-encodings.ts), all in one linear pass (multi-matcher.ts). Still best
 * effort by nature: an upstream that gzips, encrypts or splits a credential
 * defeats any redactor, which is why injection is only for destinations the
 * operator trusts with the credential.
 */
export const REDACTED = '[redacted]';

export interface CompiledRedaction {
  /** False when there is nothing to redact (then text and bytes return their input). */
  readonly active: boolean;
  /** Longest spelling in bytes: what a stream holds back between chunks. */
  readonly maxNeedleBytes: number;
  text(text: string): string;
  bytes(bytes: Uint8Array): Uint8Array;
}

/** Compile once for a set of values, then redact any number of texts in linear time each. */
export function compileRedaction(values: Iterable<string>): CompiledRedaction {
  const spellings = [...new Set([...new Set(values)].filter((v) => v !== '').flatMap(secretSpellings))];
  const chars = createMultiMatcher(spellings.map((s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i))));
  const octets = createMultiMatcher(spellings.map((s) => Buffer.from(s, 'utf8')));
  const marker = Buffer.from(REDACTED);
  return {
    active: spellings.length > 0,
    maxNeedleBytes: octets.maxLength,
    text: (text) => (spellings.length === 0 ? text : splice(text, chars)),
    bytes(bytes) {
      if (spellings.length === 0) return bytes;
      const ranges = octets.ranges(bytes.length, (i) => bytes[i] ?? 0);
      if (ranges.length === 0) return bytes;
      const parts: Uint8Array[] = [];
      let from = 0;
      for (const [start, end] of ranges) {
        parts.push(bytes.subarray(from, start), marker);
        from = end;
      }
      parts.push(bytes.subarray(from));
      return Buffer.concat(parts);
    },
  };
}

export function redact(text: string, values: Iterable<string>): string {
  return compileRedaction(values).text(text);
}

export function redactBytes(bytes: Uint8Array, values: Iterable<string>): Uint8Array {
  return compileRedaction(values).bytes(bytes);
}

export interface SecretRedactor {
  /** Remember a value that was injected somewhere, so later output is cleaned of it. */
  remember(value: string): void;
  /** Removes every remembered value. */
  redact(text: string): string;
  values(): readonly string[];
}

export function createSecretRedactor(initial: Iterable<string> = []): SecretRedactor {
  const known = new Set<string>();
  let compiled: CompiledRedaction | null = null;
  const add = (v: string): void => {
    if (v === '' || known.has(v)) return;
    known.add(v);
    compiled = null;
  };
  for (const v of initial) add(v);
  return { remember: add, redact: (text) => (compiled ??= compileRedaction(known)).text(text), values: () => [...known] };
}

/**
 * A stream that redacts values across chunk boundaries: it holds back the last
 * (longest spelling − 1) bytes until it knows they do not start a secret.
 */
export function createRedactingStream(values: readonly string[]): Transform {
  const compiled = compileRedaction(values);
  const keep = Math.max(0, compiled.maxNeedleBytes - 1);
  let pending: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      const joined = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const buf = Buffer.from(compiled.bytes(joined));
      const cut = Math.max(0, buf.length - keep);
      pending = buf.subarray(cut);
      done(null, cut > 0 ? buf.subarray(0, cut) : undefined);
    },
    flush(done: TransformCallback) {
      done(null, pending.length > 0 ? pending : undefined);
    },
  });
}

function splice(text: string, matcher: MultiMatcher): string {
  const ranges = matcher.ranges(text.length, (i) => text.charCodeAt(i));
  if (ranges.length === 0) return text;
  let out = '';
  let from = 0;
  for (const [start, end] of ranges) {
    out += text.slice(from, start) + REDACTED;
    from = end;
  }
  return out + text.slice(from);
}
