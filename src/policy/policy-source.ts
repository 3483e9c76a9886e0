/**
 * Source positions for .cedar files. Cedar reports byte offsets relative to
 * the text it was given; operators need file:line:column. We split a file into
 * its statements ourselves so each policy keeps its own offset in the file.
 */

export interface PolicyStatement {
  /** The statement text, from its first annotation to its closing `;`. */
  readonly text: string;
  /** Character offset of `text` inside the file. */
  readonly offset: number;
}

export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/**
 * Splits Cedar policy text at top-level `;`. Cedar has only `//` comments and
 * double-quoted strings with backslash escapes, so those are the only places a
 * `;` can hide. Trailing text without a `;` is returned as a statement too, so
 * the parser reports it rather than it being silently dropped.
 */
export function splitPolicyStatements(source: string): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  let start = -1;
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '/' && source[i + 1] === '/') {
      const end = source.indexOf('\n', i);
      i = end === -1 ? source.length : end + 1;
      continue;
    }
    if (ch === '"') {
      if (start === -1) start = i;
      i++;
      while (i < source.length && source[i] !== '"') i += source[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (ch === ';') {
      if (start === -1) start = i;
      statements.push({ text: source.slice(start, i + 1), offset: start });
      start = -1;
      i++;
      continue;
    }
    if (start === -1 && !/\s/.test(ch ?? '')) start = i;
    i++;
  }
  if (start !== -1) statements.push({ text: source.slice(start), offset: start });
  return statements;
}

/** Line and column (both 1-based) of a character offset. */
export function positionAt(source: string, charOffset: number): SourcePosition {
  const before = source.slice(0, Math.max(0, Math.min(charOffset, source.length)));
  const lastNewline = before.lastIndexOf('\n');
  let line = 1;
  for (let i = 0; i < before.length; i++) if (before.charCodeAt(i) === 10) line++;
  return { line, column: before.length - lastNewline };
}

/** Converts a UTF-8 byte offset (what Cedar reports) into a character offset. */
export function byteToCharOffset(text: string, byteOffset: number): number {
  return Buffer.from(text, 'utf8').subarray(0, Math.max(0, byteOffset)).toString('utf8').length;
}
