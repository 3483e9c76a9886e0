/**
 * Just enough Markdown reading for tests that keep the docs honest: the tables
 * under a heading, fenced code blocks, and inline links. Not a Markdown parser:
 * it reads the subset our docs are written in, and the tests that use it check
 * it on small samples first.
 */

/** Cells of a table row; `|` inside backticks does not split. */
export function tableCells(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let code = false;
  for (const ch of line.trim().replace(/^\|/, '').replace(/\|$/, '')) {
    if (ch === '`') code = !code;
    if (ch === '|' && !code) {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += ch;
    }
  }
  cells.push(cell.trim());
  return cells;
}

/**
 * The body rows of the first table after the heading whose text starts with
 * `heading` (any level), before the next heading. Throws if there is none, so a
 * renamed section fails the test rather than checking nothing.
 */
export function tableUnder(markdown: string, heading: string): string[][] {
  const lines = outsideFences(markdown);
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && l.replace(/^#+ /, '').startsWith(heading));
  if (start === -1) throw new Error(`no heading starting with "${heading}"`);
  const rows: string[][] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (/^#{1,6} /.test(line)) break;
    if (line.startsWith('|')) rows.push(tableCells(line));
    else if (rows.length > 0) break;
  }
  if (rows.length < 2) throw new Error(`no table under "${heading}"`);
  // Header, separator, body.
  return rows.slice(2);
}

/** The first cell of each row, without its backticks: the names a table documents. */
export function documentedNames(rows: readonly (readonly string[])[]): string[] {
  return rows.map((row) => (row[0] ?? '').replace(/^`(.*)`$/, '$1'));
}

/** Fenced code blocks with the given info string (```yaml). */
export function codeBlocks(markdown: string, lang: string): string[] {
  const blocks: string[] = [];
  let current: string[] | null = null;
  for (const line of markdown.split('\n')) {
    if (current === null && line.trim() === '```' + lang) current = [];
    else if (current !== null && line.trim() === '```') {
      blocks.push(current.join('\n') + '\n');
      current = null;
    } else current?.push(line);
  }
  return blocks;
}

/** Targets of inline links and images, `[text](target)`, outside code. */
export function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of outsideFences(markdown)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1] ?? '');
  }
  return targets;
}

/**
 * The anchors GitHub gives the headings: lower case, punctuation dropped, spaces
 * to hyphens, and `-1`, `-2`… for repeats.
 */
export function headingSlugs(markdown: string): string[] {
  const seen = new Map<string, number>();
  return outsideFences(markdown).flatMap((line) => {
    const m = /^#{1,6} +(.*?)\s*#*\s*$/.exec(line);
    if (m === null) return [];
    const base = (m[1] ?? '').toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return [n === 0 ? base : `${base}-${n}`];
  });
}

/** The lines of the document, with fenced code blocks blanked out. */
function outsideFences(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}
