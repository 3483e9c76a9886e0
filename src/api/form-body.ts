import { CordonError } from '../core/errors.ts';

/**
 * Caps for an OAuth token request body. A token request has about ten parameters
 * (RFC 6749 §4.4, RFC 8693 §2.1); the largest value is a JWT, a few KiB and rarely
 * over 16 KiB. Anything past these caps is not a token request.
 */
export const FORM_LIMITS = {
  maxParams: 32,
  maxKeyChars: 64,
  maxValueChars: 32 * 1024,
} as const;

export type FormLimits = { readonly maxParams: number; readonly maxKeyChars: number; readonly maxValueChars: number };

// Names that would mean something to a plain object; refused as in JSON bodies
// (onProtoPoisoning), even though the parameters live in a Map.
const POISONED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

function invalid(message: string, details: Record<string, unknown>): CordonError {
  return new CordonError('TOKEN_REQUEST_INVALID', message, { details });
}

function decodeComponent(raw: string, what: string): string {
  try {
    // `+` is a space in forms (WHATWG application/x-www-form-urlencoded); decodeURIComponent
    // throws on a stray `%` and on percent-encoded bytes that are not UTF-8.
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    throw invalid(`${what} is not valid percent-encoded UTF-8`, { reason: 'bad_encoding' });
  }
}

/**
 * application/x-www-form-urlencoded → parameters, in one pass over the body.
 * Work is linear in the body and stops at the first fault: every cap is checked
 * on the raw (encoded) text before decoding, and a repeated parameter is refused
 * (RFC 6749 §3.2: "parameters MUST NOT be included more than once").
 */
export function parseFormBody(body: Buffer, limits: FormLimits = FORM_LIMITS): ReadonlyMap<string, string> {
  // A form is percent-encoded ASCII. Raw bytes outside printable ASCII (including
  // non-UTF-8 bytes) would otherwise be replaced silently by U+FFFD.
  for (let i = 0; i < body.length; i++) {
    const b = body[i] as number;
    if (b < 0x20 || b > 0x7e) throw invalid(`the form body has a raw byte 0x${b.toString(16).padStart(2, '0')} at offset ${i}; percent-encode it`, { reason: 'bad_encoding', offset: i });
  }
  const text = body.toString('latin1');
  const params = new Map<string, string>();
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end === -1) end = text.length;
    if (end > start) {
      if (params.size >= limits.maxParams) throw invalid(`a token request has at most ${limits.maxParams} parameters`, { reason: 'too_many_parameters', limit: limits.maxParams });
      const eq = text.indexOf('=', start);
      const keyEnd = eq === -1 || eq > end ? end : eq;
      if (keyEnd - start > limits.maxKeyChars * 3) throw invalid(`a parameter name is longer than ${limits.maxKeyChars} characters`, { reason: 'name_too_long', limit: limits.maxKeyChars });
      if (end - keyEnd - 1 > limits.maxValueChars) throw invalid(`a parameter value is longer than ${limits.maxValueChars} characters`, { reason: 'value_too_long', limit: limits.maxValueChars });
      const key = decodeComponent(text.slice(start, keyEnd), 'a parameter name');
      if (key.length > limits.maxKeyChars) throw invalid(`a parameter name is longer than ${limits.maxKeyChars} characters`, { reason: 'name_too_long', limit: limits.maxKeyChars });
      const shownKey = JSON.stringify(key);
      if (POISONED_NAMES.has(key)) throw invalid(`the parameter name ${shownKey} is not allowed`, { field: key, reason: 'forbidden_name' });
      if (params.has(key)) throw invalid(`the ${shownKey} parameter is repeated; send each parameter once (RFC 6749 §3.2)`, { field: key, reason: 'repeated' });
      params.set(key, keyEnd === end ? '' : decodeComponent(text.slice(keyEnd + 1, end), `the ${shownKey} parameter`));
    }
    start = end + 1;
  }
  return params;
}
