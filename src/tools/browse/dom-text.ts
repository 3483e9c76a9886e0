/**
 * Text of a DOM subtree with block elements as paragraph breaks. Iterative, so
 * depth cannot overflow the stack; `maxChars` stops the walk early on huge
 * documents (the caller still cuts the final string exactly), and `complete`
 * says whether it did.
 */

// Minimal node shape shared by linkedom and the DOM lib types.
export interface TextNodeLike {
  nodeType: number;
  nodeName: string;
  nodeValue: string | null;
  childNodes: ArrayLike<TextNodeLike>;
}

const TEXT_NODE = 3;
const ELEMENT_NODE = 1;

const BLOCK = new Set(['ADDRESS', 'ARTICLE', 'ASIDE', 'BLOCKQUOTE', 'DD', 'DETAILS', 'DIV', 'DL', 'DT', 'FIELDSET', 'FIGCAPTION', 'FIGURE', 'FOOTER', 'FORM', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HEADER', 'HR', 'LI', 'MAIN', 'NAV', 'OL', 'P', 'PRE', 'SECTION', 'SUMMARY', 'TABLE', 'TR', 'UL', 'BODY', 'HTML']);
/** Never user-visible text. Also removed from the document before reading it. */
export const HIDDEN = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'IFRAME', 'OBJECT', 'EMBED', 'HEAD', 'TITLE', 'SVG', 'MATH', 'CANVAS', 'SELECT']);

const BREAK = '\n\n';

export function blockText(root: TextNodeLike, maxChars: number): { text: string; complete: boolean } {
  const out: string[] = [];
  let length = 0;
  // Entries are nodes to visit, or a marker string to emit after a block closes.
  const todo: (TextNodeLike | string)[] = [root];
  while (todo.length > 0 && length < maxChars) {
    const item = todo.pop()!;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    if (item.nodeType === TEXT_NODE) {
      // Source formatting is not text: collapse it here so only blocks and <br> break lines.
      const value = (item.nodeValue ?? '').replace(/[ \t\n\r\f]+/g, ' ');
      out.push(value);
      length += value.length;
      continue;
    }
    if (item.nodeType !== ELEMENT_NODE && item !== root) continue;
    const name = item.nodeName.toUpperCase();
    if (HIDDEN.has(name) && item !== root) continue;
    if (name === 'BR') {
      out.push('\n');
      continue;
    }
    const block = BLOCK.has(name) || name === 'TD' || name === 'TH';
    if (block) {
      out.push(name === 'TD' || name === 'TH' ? ' ' : BREAK);
      todo.push(name === 'TD' || name === 'TH' ? ' ' : BREAK);
    }
    const children = item.childNodes;
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i];
      if (child) todo.push(child);
    }
  }
  return { text: normaliseText(out.join('')), complete: todo.length === 0 };
}

/** Collapses whitespace inside paragraphs and keeps one blank line between them. */
export function normaliseText(raw: string): string {
  return cleanChars(raw)
    .split(/\n[ \t\r\f\v\u00a0]*\n\s*/)
    .map((paragraph) => paragraph.split('\n').map((line) => line.replace(/[\s\u00a0]+/g, ' ').trim()).filter(Boolean).join('\n'))
    .filter(Boolean)
    .join('\n\n');
}

/**
 * Drops NUL and other C0/C1 controls (keeping tab and newline) and replaces lone
 * surrogates, so the text is valid UTF-16 that survives JSON and terminals.
 */
export function cleanChars(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.toWellFormed().replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, '').replace(/\r\n?/g, '\n');
}

/** Cuts to at most `maxChars` UTF-16 units without splitting a surrogate pair. */
export function cutText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = Math.max(0, maxChars);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}
