import { Transform, type TransformCallback } from 'node:stream';

/**
 * Removing known secret values from anything returned to a caller or written
 * to logs. Best effort by nature: an upstream that echoes a credential in another
 * encoding (base64, gzip, split across fields) defeats any redactor, which is why
 * injection is only for destinations the operator trusts with the credential.
 */
export const REDACTED = '[redacted]';

export function redact(text: string, values: Iterable<string>): string {
  let out = text;
  for (const v of longestFirst(values)) if (out.includes(v)) out = out.split(v).join(REDACTED);
  return out;
}

export function redactBytes(bytes: Uint8Array, values: Iterable<string>): Uint8Array {
  let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const v of longestFirst(values)) buf = replaceAll(buf, Buffer.from(v), Buffer.from(REDACTED));
  return buf;
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
  const add = (v: string): void => void (v !== '' && known.add(v));
  for (const v of initial) add(v);
  return { remember: add, redact: (text) => redact(text, known), values: () => [...known] };
}

/**
 * A stream that redacts values across chunk boundaries: it holds back the last
 * (longest value − 1) bytes until it knows they do not start a secret.
 */
export function createRedactingStream(values: readonly string[]): Transform {
  const needles = longestFirst(values).map((v) => Buffer.from(v));
  const keep = Math.max(0, ...needles.map((n) => n.length - 1));
  const marker = Buffer.from(REDACTED);
  let pending: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      let buf: Buffer = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (const n of needles) buf = replaceAll(buf, n, marker);
      const cut = Math.max(0, buf.length - keep);
      pending = buf.subarray(cut);
      done(null, cut > 0 ? buf.subarray(0, cut) : undefined);
    },
    flush(done: TransformCallback) {
      done(null, pending.length > 0 ? pending : undefined);
    },
  });
}

function longestFirst(values: Iterable<string>): string[] {
  return [...new Set(values)].filter((v) => v !== '').sort((a, b) => b.length - a.length);
}

function replaceAll(buf: Buffer, needle: Buffer, marker: Buffer): Buffer {
  let at = buf.indexOf(needle);
  if (at === -1) return buf;
  const parts: Buffer[] = [];
  let from = 0;
  while (at !== -1) {
    parts.push(buf.subarray(from, at), marker);
    from = at + needle.length;
    at = buf.indexOf(needle, from);
  }
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}
