import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Node, type YAMLMap } from 'yaml';
import type { SandboxProfileProblem } from './sandbox-profile.ts';

/**
 * A YAML reader that knows where everything came from: every problem names
 * the file, the line and the field. It reads only plain data: one document,
 * no anchors or aliases (an alias bomb is refused, never expanded), no tags.
 */
export class LocatedYaml {
  readonly problems: SandboxProfileProblem[] = [];
  readonly file: string;
  readonly #lines: LineCounter;

  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.#lines = lines;
  }

  lineAt(offset: number): number {
    return this.#lines.linePos(offset).line;
  }

  lineOf(node: Node | null | undefined): number {
    return this.lineAt(node?.range?.[0] ?? 0);
  }

  fail(node: Node | null | undefined, field: string, reason: string): void {
    this.problems.push({ file: this.file, line: this.lineOf(node), field, reason });
  }

  failAt(line: number, field: string, reason: string): void {
    this.problems.push({ file: this.file, line, field, reason });
  }
}

/** One parsed document's root and its reader, or the reader holding the problems. */
export function readLocatedYaml(text: string, file: string): { root: Node; at: LocatedYaml } | { at: LocatedYaml } {
  const lines = new LineCounter();
  const at = new LocatedYaml(file, lines);
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true });
  const [doc, second] = Array.isArray(docs) ? docs : [];
  if (doc === undefined) {
    at.failAt(1, '(file)', 'the file is empty; a profile is a mapping with name, backend, languages, tools, egressPolicy, limits and session');
    return { at };
  }
  for (const err of [...doc.errors, ...doc.warnings]) at.failAt(at.lineAt(err.pos[0]), '(yaml)', err.message.split('\n')[0] ?? 'YAML syntax error');
  if (second !== undefined) at.failAt(at.lineAt(second.range[0]), '(yaml)', 'one profile per file: remove the second document ("---")');
  if (at.problems.length > 0) return { at };
  visit(doc, {
    Node(_key, node) {
      // Anchors and aliases are refused, not expanded: a profile reads the same
      // to an operator as to the loader, and a nested alias cannot blow up memory.
      if (isAlias(node)) at.fail(node, '(yaml)', `alias "*${node.source}" is not allowed; write the value out`);
      else if (node.anchor !== undefined) at.fail(node, '(yaml)', `anchor "&${node.anchor}" is not allowed; write the value out`);
      else if (node.tag !== undefined) at.fail(node, '(yaml)', `tag "${node.tag}" is not allowed; profiles are plain strings, numbers, lists and mappings`);
    },
  });
  if (at.problems.length > 0) return { at };
  const root = doc.contents;
  if (root === null) {
    at.failAt(1, '(file)', 'the file is empty; a profile is a mapping with name, backend, languages, tools, egressPolicy, limits and session');
    return { at };
  }
  return { root, at };
}

/** A mapping's fields by key, with the key node for line numbers; a null value reads as null. */
export type Fields = ReadonlyMap<string, { readonly key: Node; readonly value: Node | null }>;

export function readFields(at: LocatedYaml, map: YAMLMap, prefix: string): Fields {
  const out = new Map<string, { key: Node; value: Node | null }>();
  for (const pair of map.items) {
    const keyNode = pair.key as Node | null;
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      at.fail(keyNode ?? map, prefix === '' ? '(key)' : `${prefix}.(key)`, 'keys must be plain strings');
      continue;
    }
    const value = pair.value as Node | null;
    out.set(keyNode.value, { key: keyNode, value: value === null || (isScalar(value) && value.value === null) ? null : value });
  }
  return out;
}

export function fieldPath(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

export function readString(at: LocatedYaml, node: Node, field: string): string | null {
  if (isScalar(node) && typeof node.value === 'string') return node.value;
  at.fail(node, field, `must be a string, got ${describe(node)}`);
  return null;
}

export function readInteger(at: LocatedYaml, node: Node, field: string, min: number, max: number): number | null {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    at.fail(node, field, `must be a whole number from ${min} to ${max}, got ${describe(node)}`);
    return null;
  }
  if (v < min || v > max) {
    at.fail(node, field, `${v} is out of range; use ${min} to ${max}`);
    return null;
  }
  return v;
}

/** A finite number, fractions allowed (a CPU share). */
export function readNumber(at: LocatedYaml, node: Node, field: string, min: number, max: number): number | null {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    at.fail(node, field, `must be a number from ${min} to ${max}, got ${describe(node)}`);
    return null;
  }
  if (v < min || v > max) {
    at.fail(node, field, `${v} is out of range; use ${min} to ${max}`);
    return null;
  }
  return v;
}

export function readSequence(at: LocatedYaml, node: Node, field: string): Node[] | null {
  if (!isSeq(node)) {
    at.fail(node, field, `must be a list, got ${describe(node)}`);
    return null;
  }
  return node.items as Node[];
}

export function readMapping(at: LocatedYaml, node: Node, field: string): YAMLMap | null {
  if (!isMap(node)) {
    at.fail(node, field, `must be a mapping, got ${describe(node)}`);
    return null;
  }
  return node;
}

function describe(node: Node): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
    if (typeof v === 'number') return `the number ${String(v)}`;
    if (typeof v === 'boolean') return String(v);
    if (v === null) return 'null';
  }
  return 'something else';
}
