import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import { CordonError } from '../../core/errors.ts';
import { HIDDEN, blockText, cleanChars, cutText, normaliseText, type TextNodeLike } from './dom-text.ts';
import { limitMarkup } from './limit-markup.ts';
import { pageLinks, parseHttpUrl, type PageLink } from './page-links.ts';

export interface ReadablePage {
  title: string;
  text: string;
  links: PageLink[];
  /** True when the input, the text, the links or a link's text was cut to fit a cap. */
  truncated: boolean;
}

export interface ReadableCaps {
  maxTextChars: number;
  maxLinks: number;
  maxLinkTextChars?: number;
}

/** Input beyond this is cut before parsing: the parse and Readability are the costly part. */
export const MAX_HTML_CHARS = 5 * 1024 * 1024;
/** Deeper markup is flattened (see limit-markup.ts); real pages stay far below this. */
export const MAX_DEPTH = 256;
/** Elements past this are flattened too (text kept, links lost): bounds the parse at ~0.5 s. */
export const MAX_ELEMENTS = 50_000;
/**
 * Past this many elements, or this much nesting (the sum of every element's depth),
 * Readability's scoring takes about a second or more; we read the whole document
 * instead. Nesting matters as much as count: 70 chains of 250 nested divs are only
 * 17.5k elements but took Readability 2 s. (Its own maxElemsToParse counts with
 * getElementsByTagName('*'), which linkedom answers with 0, so we count.)
 */
export const MAX_READABILITY_ELEMENTS = 20_000;
export const MAX_READABILITY_TOTAL_DEPTH = 500_000;
export const MAX_TITLE_CHARS = 512;
const DEFAULT_LINK_TEXT_CHARS = 200;
const REMOVED_SELECTOR = [...HIDDEN].filter((name) => name !== 'HEAD' && name !== 'TITLE').map((name) => name.toLowerCase()).join(',');

/**
 * Turns an HTML page into a title, readable text and absolute http(s) links.
 * Never runs scripts, follows frames or honours `<meta http-equiv=refresh>`:
 * linkedom builds an inert DOM, and we only read it.
 */
export function readablePage(html: string, baseUrl: string, caps: ReadableCaps): ReadablePage {
  const base = parseHttpUrl(baseUrl);
  if (!base) throw new CordonError('INPUT_INVALID', `baseUrl must be an absolute http(s) URL, got ${JSON.stringify(baseUrl.slice(0, 200))}.`);
  const maxTextChars = Math.max(0, Math.floor(caps.maxTextChars));
  const maxLinks = Math.max(0, Math.floor(caps.maxLinks));
  const maxLinkTextChars = Math.max(0, Math.floor(caps.maxLinkTextChars ?? DEFAULT_LINK_TEXT_CHARS));

  let truncated = html.length > MAX_HTML_CHARS;
  const limited = limitMarkup(cutText(html, MAX_HTML_CHARS), { maxDepth: MAX_DEPTH, maxElements: MAX_ELEMENTS });
  if (limited.droppedTags > 0) truncated = true;

  const { document } = parseHTML(limited.html);
  // One selector, one walk. Removed before links are read: a link inside <noscript> or
  // <template> is not one a reader sees.
  for (const element of [...document.querySelectorAll(REMOVED_SELECTOR)]) element.remove();

  const links = pageLinks(document, base, { maxLinks, maxLinkTextChars });
  truncated ||= links.truncated;

  // linkedom's document.title misses a <title> outside <head>; browsers find it anywhere.
  const rawTitle = document.querySelector('title')?.textContent ?? '';
  if (rawTitle.length > MAX_TITLE_CHARS) truncated = true;
  const docTitle = normaliseText(cutText(rawTitle, MAX_TITLE_CHARS * 4));
  // Readability guts the DOM even when it finds no article, so the fallback is read first.
  // Walk a little past the cap so "exactly at the cap" and "over it" stay distinguishable.
  // The whole document, not document.body: linkedom leaves a fragment's nodes outside <body>.
  // <head> and <title> are skipped by the walk.
  const documentText = blockText(document as unknown as TextNodeLike, maxTextChars + 1);
  const readable = limited.elements <= MAX_READABILITY_ELEMENTS && limited.totalDepth <= MAX_READABILITY_TOTAL_DEPTH;
  const article = readable ? readArticle(document, docTitle) : null;
  const title = cutText(normaliseText(article?.title ?? '') || docTitle, MAX_TITLE_CHARS);

  const articleText = article && blockText(article.content, maxTextChars + 1);
  const read = articleText?.text ? articleText : documentText;
  const text = cutText(read.text, maxTextChars);
  if (!read.complete || text.length < read.text.length) truncated = true;

  return { title, text, links: links.links, truncated };
}

interface Article {
  title: string;
  content: TextNodeLike;
}

function readArticle(document: ReturnType<typeof parseHTML>['document'], docTitle: string): Article | null {
  // Readability mutates the DOM it reads; links and body text were collected before this.
  // It re-reads the <title> with regexes, so hand it the already-capped one.
  const titleElement = document.querySelector('title');
  if (titleElement) titleElement.textContent = docTitle;
  const reader = new Readability(document as unknown as ConstructorParameters<typeof Readability>[0], {
    serializer: (node): TextNodeLike => node as unknown as TextNodeLike,
  });
  let article: ReturnType<typeof reader.parse>;
  try {
    article = reader.parse();
  } catch {
    // Hostile markup must cost the reader view, not the call: read the whole document instead.
    return null;
  }
  if (!article?.content) return null;
  return { title: cleanChars(article.title ?? ''), content: article.content };
}
