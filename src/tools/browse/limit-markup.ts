import { Tokenizer } from 'htmlparser2';

/**
 * Removes open tags that would nest deeper than `maxDepth`, or that come after
 * the first `maxElements`, before any tree builder sees the markup. Why: htmlparser2's Parser (under linkedom) keeps its
 * open-element stack with `unshift`, so 100k nested `<div>`s take ~15 s, and
 * Readability slows sharply past ~500 levels; and parse time grows with the
 * element count (100k links take ~1 s). The tokenizer is linear, and its
 * indexes let us cut tags out of the original string without re-serialising.
 *
 * The depth model is approximate on purpose (no full tree-construction rules):
 * void elements never nest, a repeated `<p>`/`<li>`/`<td>`… closes its open
 * sibling, and a close tag pops to its match among the top entries. Over-counting
 * only flattens markup; the text between dropped tags is kept. Close tags are
 * left in place: a tree builder ignores the ones that match nothing.
 */

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr', 'basefont', 'bgsound', 'frame', 'keygen']);
const SELF_SIBLING = new Set(['p', 'li', 'option', 'dt', 'dd', 'tr', 'td', 'th']);
/** How far down the stack a close tag looks for its match; bounds the work per tag. */
const CLOSE_SEARCH = 64;

export interface MarkupLimits {
  maxDepth: number;
  maxElements: number;
}

export interface LimitedMarkup {
  html: string;
  /** Open tags kept (void ones included): what the tree builder will create. */
  elements: number;
  /**
   * Sum over kept elements of their nesting depth: what a reader that walks each
   * element's ancestors pays. 20k elements of a real page sum to a few hundred thousand.
   */
  totalDepth: number;
  /** Open tags removed. */
  droppedTags: number;
}

export function limitMarkup(html: string, { maxDepth, maxElements }: MarkupLimits): LimitedMarkup {
  const stack: string[] = [];
  const cuts: [number, number][] = [];
  let name = '';
  let tagStart = 0;
  let elements = 0;
  let totalDepth = 0;
  const noop = (): void => undefined;

  const tokenizer = new Tokenizer({ xmlMode: false, decodeEntities: false }, {
    onopentagname(start, end) {
      name = html.slice(start, end).toLowerCase();
      tagStart = start - 1;
    },
    onopentagend(endIndex) {
      if (SELF_SIBLING.has(name) && stack.at(-1) === name) stack.pop();
      if (elements >= maxElements || stack.length >= maxDepth) {
        cuts.push([tagStart, endIndex + 1]);
        return;
      }
      elements += 1;
      totalDepth += stack.length + 1;
      if (!VOID.has(name)) stack.push(name);
    },
    onselfclosingtag(endIndex) {
      // `<x/>` opens nothing that needs tracking, but still counts as an element.
      if (elements >= maxElements) {
        cuts.push([tagStart, endIndex + 1]);
        return;
      }
      elements += 1;
      totalDepth += stack.length + 1;
    },
    onclosetag(start, end) {
      const closing = html.slice(start, end).toLowerCase();
      const floor = Math.max(0, stack.length - CLOSE_SEARCH);
      for (let i = stack.length - 1; i >= floor; i--) {
        if (stack[i] === closing) {
          stack.length = i;
          return;
        }
      }
    },
    onattribdata: noop,
    onattribentity: noop,
    onattribend: noop,
    onattribname: noop,
    oncdata: noop,
    oncomment: noop,
    ondeclaration: noop,
    onend: noop,
    onprocessinginstruction: noop,
    ontext: noop,
    ontextentity: noop,
  });
  tokenizer.write(html);
  tokenizer.end();

  if (cuts.length === 0) return { html, elements, totalDepth, droppedTags: 0 };
  const parts: string[] = [];
  let at = 0;
  for (const [from, to] of cuts) {
    parts.push(html.slice(at, from));
    at = to;
  }
  parts.push(html.slice(at));
  return { html: parts.join(''), elements, totalDepth, droppedTags: cuts.length };
}
