/**
 * Parses an answer's bytes as JSON, strictly: valid UTF-8 only (no replacement characters
 * smuggled in), nesting no deeper than `maxDepth` (checked by a linear scan before JSON.parse,
 * so a bomb of ten million brackets costs one pass and never reaches code that recurses over
 * the value), and a top-level object. Returns null with the reason instead of throwing, so the
 * caller turns it into its own typed error.
 */
export type StrictJsonResult = { ok: true; value: Record<string, unknown> } | { ok: false; reason: 'not_utf8' | 'too_deep' | 'not_json' | 'not_an_object' };

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Deepest nesting of `[` and `{` outside strings, stopping once past `limit`. */
export function jsonNestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

export function parseStrictJson(bytes: Uint8Array, maxDepth: number): StrictJsonResult {
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'not_utf8' };
  }
  if (jsonNestingDepth(text, maxDepth) > maxDepth) return { ok: false, reason: 'too_deep' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not_an_object' };
  return { ok: true, value: value as Record<string, unknown> };
}
