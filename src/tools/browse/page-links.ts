import { cleanChars, cutText } from './dom-text.ts';

export interface PageLink {
  href: string;
  text: string;
}

interface ElementLike {
  getAttribute(name: string): string | null;
  textContent: string | null;
}
interface DocumentLike {
  querySelectorAll(selector: string): Iterable<unknown> & ArrayLike<unknown>;
}

/**
 * `<a href>` targets in document order, absolute, http(s) only, without
 * fragments and deduplicated. Fragments are dropped because they name a place
 * in a page, not another page: `/a#x` and `/a#y` are one fetch. A link that is
 * only a fragment (`#top`) therefore points at this page and is skipped.
 *
 * `<base href>` counts only when it resolves to http(s): a `javascript:` or
 * `data:` base must not turn every relative link into script or inline data.
 */
export function pageLinks(document: DocumentLike, pageUrl: URL, caps: { maxLinks: number; maxLinkTextChars: number }): { links: PageLink[]; truncated: boolean } {
  const baseElement = document.querySelectorAll('base[href]')[0] as ElementLike | undefined;
  const base = (baseElement && parseHttpUrl(baseElement.getAttribute('href') ?? '', pageUrl)) || pageUrl;
  const self = withoutFragment(pageUrl);

  const links: PageLink[] = [];
  const seen = new Set<string>();
  let truncated = false;
  for (const node of document.querySelectorAll('a[href]') as Iterable<ElementLike>) {
    const raw = node.getAttribute('href') ?? '';
    // Cap before parsing: a megabyte-long href is not a link anyone wants to follow.
    if (raw.length > 8192) continue;
    const url = parseHttpUrl(raw, base);
    if (!url) continue;
    const href = withoutFragment(url);
    if (seen.has(href) || (href === self && raw.trim().startsWith('#'))) continue;
    if (links.length >= caps.maxLinks) {
      truncated = true;
      break;
    }
    seen.add(href);
    const fullText = cleanChars(node.textContent ?? '').replace(/\s+/g, ' ').trim();
    const text = cutText(fullText, caps.maxLinkTextChars);
    if (text.length < fullText.length) truncated = true;
    links.push({ href, text });
  }
  return { links, truncated };
}

function withoutFragment(url: URL): string {
  const copy = new URL(url.href);
  copy.hash = '';
  return copy.href;
}

/** `raw` resolved against `base`, or null unless the result is http(s). */
export function parseHttpUrl(raw: string, base?: URL): URL | null {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
}
