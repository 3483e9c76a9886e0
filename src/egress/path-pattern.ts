import { hasControlOrSpace } from '../core/text-checks.ts';

/**
 * `paths:` globs, matched against the WHATWG-normalised path (dot segments
 * already resolved, query excluded). `*` is one segment or part of one; `**`
 * is any number of characters including `/`.
 */
export interface PathPattern {
  readonly text: string;
  readonly regex: RegExp;
}

export function parsePathPattern(text: string): PathPattern | { error: string } {
  if (!text.startsWith('/')) return { error: `path "${text}" must start with "/"` };
  if (/[?#]/.test(text)) return { error: `path "${text}" contains "?" or "#"; queries are not matched` };
  if (hasControlOrSpace(text) || /[\\%]/.test(text)) return { error: `path "${text}" contains a space, control character, "\\" or "%"` };
  if (text.split('/').some((seg) => seg === '.' || seg === '..')) return { error: `path "${text}" contains a "." or ".." segment` };
  if (/\*{3,}/.test(text)) return { error: `path "${text}": use "*" or "**", not "***"` };
  let source = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '*') {
      if (text[i + 1] === '*') {
        source += '.*';
        i++;
      } else {
        source += '[^/]*';
      }
    } else {
      source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return { text, regex: new RegExp(`^${source}$`) };
}

/**
 * Paths an upstream may decode differently from how we matched them: an encoded
 * "/", "\" or "." can turn `/repos/acme/x%2F..%2F..%2Fother` into another
 * route after our check. Where a rule restricts paths, such requests are refused.
 */
export function hasAmbiguousEncoding(path: string): boolean {
  return /%(2f|5c|2e|00)/i.test(path);
}
