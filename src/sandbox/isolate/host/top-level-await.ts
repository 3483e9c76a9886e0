import { parse } from 'acorn';

/**
 * Code that models write uses `await` at the top level (`const r = await fetch(u)`),
 * which a classic script rejects. As the Node.js REPL does, such a source is
 * rewritten into an async function: top-level declarations become assignments to
 * globals declared up front (so a session sandbox keeps them for the next call),
 * and a final expression statement becomes the function's return value.
 *
 * This runs in the isolate host, never in the runner: parsing hostile source is
 * one more thing that may only cost its own host.
 */
export type RewriteResult =
  | { readonly ok: true; readonly code: string; readonly firstLineOffset: number }
  | { readonly ok: false; readonly error: { readonly name: string; readonly message: string; readonly line?: number; readonly column?: number } };

interface AstNode {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly [key: string]: unknown;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

export function rewriteTopLevelAwait(source: string): RewriteResult {
  let program: AstNode;
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true, locations: true }) as unknown as AstNode;
  } catch (err) {
    if (err instanceof RangeError) return { ok: false, error: { name: 'SyntaxError', message: 'the source nests too deeply to compile' } };
    const loc = (err as { loc?: { line: number; column: number } }).loc;
    const message = err instanceof Error ? err.message.replace(/ \(\d+:\d+\)$/, '') : 'invalid source';
    return { ok: false, error: { name: 'SyntaxError', message, ...(loc === undefined ? {} : { line: loc.line, column: loc.column + 1 }) } };
  }
  const body = program.body as AstNode[];
  const names = new Set<string>();
  const edits: Edit[] = [];
  const text = (n: AstNode) => source.slice(n.start, n.end);

  body.forEach((statement, i) => {
    if (statement.type === 'VariableDeclaration') {
      const parts: string[] = [];
      for (const d of statement.declarations as AstNode[]) {
        const id = d.id as AstNode;
        collectNames(id, names);
        const init = d.init as AstNode | null;
        if (init !== null) parts.push(`(${text(id)} = ${text(init)})`);
      }
      edits.push({ start: statement.start, end: statement.end, text: parts.length === 0 ? ';' : `void (${parts.join(', ')});` });
    } else if (statement.type === 'FunctionDeclaration' || statement.type === 'ClassDeclaration') {
      const id = statement.id as AstNode;
      names.add(id.name as string);
      edits.push({ start: statement.start, end: statement.start, text: `${id.name as string} = ` });
      edits.push({ start: statement.end, end: statement.end, text: ';' });
    } else if (statement.type === 'ExpressionStatement' && i === body.length - 1) {
      edits.push({ start: statement.start, end: statement.end, text: `return (${text(statement.expression as AstNode)});` });
    }
  });

  let out = '';
  let at = 0;
  for (const e of edits) {
    out += source.slice(at, e.start) + e.text;
    at = e.end;
  }
  out += source.slice(at);
  const prefix = `${names.size === 0 ? '' : `var ${[...names].join(', ')}; `}(async () => { `;
  // The closing line break keeps a trailing line comment from swallowing the wrapper.
  return { ok: true, code: `${prefix}${out}\n})()`, firstLineOffset: prefix.length };
}

function collectNames(pattern: AstNode, into: Set<string>): void {
  switch (pattern.type) {
    case 'Identifier':
      into.add(pattern.name as string);
      return;
    case 'ObjectPattern':
      for (const p of pattern.properties as AstNode[]) collectNames(p.type === 'RestElement' ? (p.argument as AstNode) : (p.value as AstNode), into);
      return;
    case 'ArrayPattern':
      for (const el of pattern.elements as (AstNode | null)[]) if (el !== null) collectNames(el, into);
      return;
    case 'RestElement':
      collectNames(pattern.argument as AstNode, into);
      return;
    case 'AssignmentPattern':
      collectNames(pattern.left as AstNode, into);
      return;
  }
}
