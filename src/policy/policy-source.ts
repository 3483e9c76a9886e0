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
  /** 1-based line of the statement's first character. */
  readonly line: number;
}

export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/**
 * Splits Cedar policy text at top-level `;`. Cedar has only `//` comments and
 * double-quoted strings with backslash escapes, so those are the only places a
 * `;` can hide. Trailing text without a `;` is returned as a statement too, so
 * the parser reports it rather than it being silently dropped. One pass, so a
 * file of thousands of policies splits in linear time.
 */
export function splitPolicyStatements(source: string): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  let start = -1;
  let startLine = 1;
  let line = 1;
  let inString = false;
  let inComment = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\n') {
      line++;
      inComment = false;
      continue;
    }
    if (inComment) continue;
    if (inString) {
      if (ch === '\\') {
        if (source[i + 1] === '\n') line++;
        i++;
      } else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '/' && source[i + 1] === '/') {
      inComment = true;
      continue;
    }
    if (start === -1 && !/\s/.test(ch ?? '')) {
      start = i;
      startLine = line;
    }
    if (ch === '"') inString = true;
    else if (ch === ';') {
      statements.push({ text: source.slice(start, i + 1), offset: start, line: startLine });
      start = -1;
    }
  }
  if (start !== -1) statements.push({ text: source.slice(start), offset: start, line: startLine });
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
