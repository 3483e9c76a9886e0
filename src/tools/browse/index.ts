export { readablePage, MAX_HTML_CHARS, MAX_DEPTH, MAX_ELEMENTS, MAX_TITLE_CHARS, type ReadablePage, type ReadableCaps } from './readable-page.js';
export type { PageLink } from './page-links.js';
export { classifyContentType, type TextType } from './text-types.js';
