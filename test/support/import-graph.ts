import { posix } from 'node:path';
import ts from 'typescript';

/**
 * The import graph of a set of TypeScript files, and the two rules Cordon's
 * layout keeps (docs/architecture.md, "Layout"): layers point one way, and a
 * folder with an index.ts is entered only through it. Pure functions over `{path: text}` so test/architecture.test.ts can
 * run them over the real tree and over small synthetic trees that must fail.
 */

/** Files by repo-relative POSIX path (`src/egress/egress-proxy.ts`). */
export type SourceTree = Readonly<Record<string, string>>;

export type ImportKind = 'import' | 'import type' | 'export from' | 'import()' | 'import type()';

export interface ImportEdge {
  kind: ImportKind;
  line: number;
  /** The specifier as written; undefined for an `import()` whose argument is not a literal. */
  specifier: string | undefined;
}

/**
 * Every module reference in one file, found with the TypeScript parser rather
 * than a regex so comments and strings that merely mention `import(...)` are
 * not counted, and `export * from`, `import type` and `import()` are.
 */
export function scanImports(fileName: string, text: string): ImportEdge[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edges: ImportEdge[] = [];
  const add = (kind: ImportKind, node: ts.Node, literal: ts.Node | undefined): void => {
    const specifier = literal !== undefined && ts.isStringLiteralLike(literal) ? literal.text : undefined;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    edges.push({ kind, line, specifier });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.importClause?.isTypeOnly ? 'import type' : 'import', node, node.moduleSpecifier);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      add('export from', node, node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add('import', node, node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add('import()', node, node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add('import type()', node, node.argument.literal);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

interface ResolvedEdge extends ImportEdge {
  from: string;
  /** The repo-relative file a relative specifier points at; undefined for packages and `node:` modules. */
  to: string | undefined;
}

function edgesOf(tree: SourceTree): ResolvedEdge[] {
  return Object.entries(tree).flatMap(([from, text]) =>
    scanImports(from, text).map((edge) => ({
      ...edge,
      from,
      to: edge.specifier?.startsWith('.') ? posix.join(posix.dirname(from), edge.specifier) : undefined,
    })),
  );
}

const describeEdge = (e: ResolvedEdge): string => `${e.from}:${e.line} ${e.kind} ${e.specifier ?? '<computed>'}`;

/** The top-level folder under src/ that holds a file (`egress` for src/egress/net/x.ts), or undefined outside src/. */
export function layerOf(file: string): string | undefined {
  const [root, top, rest] = file.split('/');
  return root === 'src' && top !== undefined && rest !== undefined ? top : undefined;
}

/**
 * A file under src/ imports only its own top-level folder and folders of a
 * strictly lower rank. An `import()` with a computed specifier is refused
 * outright: it could reach any layer, so the graph cannot be checked.
 */
export function layerViolations(tree: SourceTree, rank: Readonly<Record<string, number>>): string[] {
  const violations: string[] = [];
  for (const edge of edgesOf(tree)) {
    const from = layerOf(edge.from);
    if (from === undefined) continue;
    if (edge.specifier === undefined) {
      violations.push(`${describeEdge(edge)}: use a string literal so the import graph can be checked`);
      continue;
    }
    const to = edge.to === undefined ? undefined : layerOf(edge.to);
    if (to === undefined || to === from) continue;
    if ((rank[to] ?? Infinity) >= (rank[from] ?? -Infinity)) violations.push(`${describeEdge(edge)}: ${from} may not depend on ${to}`);
  }
  return violations;
}

/** A reason a test under test/ imports a folder's internal file instead of its index.ts. */
export interface FrontDoorException {
  from: string;
  to: string;
  reason: string;
}

/**
 * A folder with an index.ts is entered from outside only through that file;
 * inside the folder (tests next to the code included) files import each other
 * directly. Nested folders count: code outside src/sandbox/ uses
 * src/sandbox/index.ts, never src/sandbox/profiles/index.ts. Returns the
 * violations and the exceptions that matched nothing, so a stale entry fails
 * too.
 */
export function frontDoorViolations(tree: SourceTree, exceptions: readonly FrontDoorException[] = []): { violations: string[]; unusedExceptions: FrontDoorException[] } {
  const doors = new Set(Object.keys(tree).filter((f) => posix.basename(f) === 'index.ts').map((f) => posix.dirname(f)));
  const used = new Set<FrontDoorException>();
  const violations: string[] = [];
  for (const edge of edgesOf(tree)) {
    if (edge.to === undefined) continue;
    const target = edge.to;
    // Outermost folder first: that is the door the importer has to use.
    const door = ancestors(target).find((dir) => doors.has(dir) && !edge.from.startsWith(`${dir}/`) && target !== `${dir}/index.ts`);
    if (door === undefined) continue;
    const exception = exceptions.find((x) => x.from === edge.from && x.to === target);
    if (exception !== undefined) used.add(exception);
    else violations.push(`${describeEdge(edge)}: import ${door}/index.ts instead`);
  }
  return { violations, unusedExceptions: exceptions.filter((x) => !used.has(x)) };
}

/** `src/a/b/c.ts` → [`src`, `src/a`, `src/a/b`]. */
function ancestors(file: string): string[] {
  const parts = file.split('/').slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}
