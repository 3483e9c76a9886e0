import { CordonError } from '../../core/errors.ts';

/*
 * A small unified-diff reader and applier. No maintained diff library is in the
 * dependency tree, and the subset agents send (one file, `@@` hunks, optional
 * `---`/`+++` headers, `\ No newline at end of file`) is small. Hunks must match the
 * file exactly (no fuzz); a hunk may sit at a different line than its header says
 * (like patch's offset), as long as its old lines occur after the previous hunk.
 */

export interface Hunk {
  readonly index: number;
  readonly header: string;
  readonly oldStart: number;
  readonly oldLines: string[];
  readonly newLines: string[];
  readonly oldNoNewline: boolean;
  readonly newNoNewline: boolean;
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/u;

function malformed(message: string): CordonError {
  return new CordonError('INPUT_INVALID', `the diff is malformed: ${message}; send a unified diff (diff -u) for one file`);
}

export function parseUnifiedDiff(diff: string): Hunk[] {
  const lines = diff.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const hunks: Hunk[] = [];
  let i = 0;
  let sawHeader = false;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ ')) {
      if (sawHeader) throw malformed('it changes more than one file');
      sawHeader = true;
      i += 2;
      continue;
    }
    const m = HUNK_HEADER.exec(line);
    if (m === null) {
      if (hunks.length === 0 && !line.startsWith('@@')) {
        i += 1; // preamble such as `diff --git` or `index` lines
        continue;
      }
      throw malformed(`line ${i + 1} is not a hunk header or hunk line`);
    }
    const oldCount = m[2] === undefined ? 1 : Number(m[2]);
    const newCount = m[4] === undefined ? 1 : Number(m[4]);
    const oldLines: string[] = [];
    const newLines: string[] = [];
    let oldNoNewline = false;
    let newNoNewline = false;
    let last: ' ' | '-' | '+' | undefined;
    i += 1;
    while (i < lines.length && (oldLines.length < oldCount || newLines.length < newCount || (lines[i] ?? '').startsWith('\\'))) {
      const body = lines[i] ?? '';
      const tag = body[0];
      const text = body.slice(1);
      if (tag === ' ' || (body === '' && oldLines.length < oldCount && newLines.length < newCount)) {
        oldLines.push(text);
        newLines.push(text);
      } else if (tag === '-') oldLines.push(text);
      else if (tag === '+') newLines.push(text);
      else if (tag === '\\') {
        if (last === ' ' || last === '-') oldNoNewline = true;
        if (last === ' ' || last === '+') newNoNewline = true;
      } else throw malformed(`line ${i + 1} does not start with " ", "-", "+" or "\\"`);
      if (tag === ' ' || tag === '-' || tag === '+') last = tag;
      else if (body === '') last = ' ';
      i += 1;
    }
    if (oldLines.length !== oldCount || newLines.length !== newCount) throw malformed(`hunk ${hunks.length + 1} has fewer lines than its header says`);
    hunks.push({ index: hunks.length + 1, header: m[0], oldStart: Number(m[1]), oldLines, newLines, oldNoNewline, newNoNewline });
  }
  if (hunks.length === 0) throw malformed('it has no hunks');
  return hunks;
}

function matchesAt(lines: readonly string[], at: number, expected: readonly string[]): boolean {
  if (at < 0 || at + expected.length > lines.length) return false;
  return expected.every((line, k) => lines[at + k] === line);
}

function conflict(hunk: Hunk, why: string): CordonError {
  return new CordonError('FS_EDIT_CONFLICT', `hunk ${hunk.index} (${hunk.header}) does not apply: ${why}; read the file again and rebuild the diff`, {
    details: { hunk: hunk.index, header: hunk.header },
  });
}

/** Applies a unified diff to `text`; throws FS_EDIT_CONFLICT naming the first hunk that does not apply. */
export function applyUnifiedDiff(text: string, diff: string): string {
  const hunks = parseUnifiedDiff(diff);
  const lines = text.split('\n');
  let finalNewline = lines.at(-1) === '';
  if (finalNewline) lines.pop();
  if (text === '') finalNewline = false;
  const out: string[] = [];
  let cursor = 0; // next original line not yet copied
  for (const hunk of hunks) {
    // An empty old side (pure insertion) anchors after line oldStart, not at it.
    const wanted = hunk.oldLines.length === 0 ? hunk.oldStart : hunk.oldStart - 1;
    let at = matchesAt(lines, wanted, hunk.oldLines) && wanted >= cursor ? wanted : -1;
    if (at === -1 && hunk.oldLines.length > 0) {
      for (let k = cursor; k + hunk.oldLines.length <= lines.length; k += 1) {
        if (matchesAt(lines, k, hunk.oldLines)) {
          at = k;
          break;
        }
      }
    }
    if (at === -1) throw conflict(hunk, 'its old lines are not in the file');
    const end = at + hunk.oldLines.length;
    if (hunk.oldNoNewline && (end !== lines.length || finalNewline)) throw conflict(hunk, 'the file does not end where the diff says');
    out.push(...lines.slice(cursor, at), ...hunk.newLines);
    cursor = end;
    if (end === lines.length) finalNewline = hunk.newNoNewline ? false : hunk.newLines.length > 0 || finalNewline;
  }
  out.push(...lines.slice(cursor));
  if (out.length === 0) return '';
  return out.join('\n') + (finalNewline ? '\n' : '');
}
