import type { Page } from 'playwright-core';
import { cutText } from './dom-text.ts';
import type { PageLink } from './page-links.ts';
import { sharedReaders } from './readable-pool.ts';

export const MAX_TEXT_CHARS = 100_000;
export const MAX_LINKS = 200;
export const MAX_SNAPSHOT_CHARS = 100_000;
/** A viewport PNG over this is left out (with the reason) rather than cut: a cut PNG is no image. */
export const MAX_SCREENSHOT_BYTES = 1024 * 1024;

export interface PageReading {
  readonly title: string;
  readonly text: string;
  readonly links: PageLink[];
  readonly truncated: boolean;
}

/** The page's title, readable text and links, from its DOM as it is now (scripts have run). */
export async function readPage(page: Page, url: string, timeoutMs: number): Promise<PageReading> {
  if (!/^https?:/i.test(url)) return { title: '', text: '', links: [], truncated: false };
  // content() serialises the DOM in Playwright's own isolated world: page scripts cannot
  // tamper with the serialiser. The document is cut again before parsing (readable-page.ts).
  const started = Date.now();
  const html = await withTimeout(page.content(), timeoutMs, 'reading the page');
  // Parsed in a worker, off the runner's event loop: the DOM is the page's own choosing.
  return sharedReaders().read(html, url, { maxTextChars: MAX_TEXT_CHARS, maxLinks: MAX_LINKS }, Math.max(1, timeoutMs - (Date.now() - started)));
}

export async function snapshotPage(page: Page, timeoutMs: number): Promise<{ snapshot: string; truncated: boolean }> {
  const snapshot = await page.ariaSnapshot({ mode: 'ai', timeout: timeoutMs });
  return { snapshot: cutText(snapshot, MAX_SNAPSHOT_CHARS), truncated: snapshot.length > MAX_SNAPSHOT_CHARS };
}

export type Screenshot = { readonly mimeType: 'image/png'; readonly base64: string; readonly bytes: number } | { readonly omitted: string; readonly bytes: number };

export async function screenshotPage(page: Page, timeoutMs: number): Promise<Screenshot> {
  const png = await page.screenshot({ type: 'png', fullPage: false, timeout: timeoutMs, caret: 'hide' });
  if (png.length > MAX_SCREENSHOT_BYTES) return { omitted: `the PNG is ${png.length} bytes, over the ${MAX_SCREENSHOT_BYTES}-byte cap`, bytes: png.length };
  return { mimeType: 'image/png', base64: png.toString('base64'), bytes: png.length };
}

/** Rejects after `ms`; the work itself is stopped by the caller (closing the page). */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PageTimeout(`${what} took longer than ${ms} ms`)), Math.max(1, ms));
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

export class PageTimeout extends Error {
  override readonly name = 'PageTimeout';
}
