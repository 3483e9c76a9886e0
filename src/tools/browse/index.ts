export { readablePage, MAX_HTML_CHARS, MAX_DEPTH, MAX_ELEMENTS, MAX_TITLE_CHARS, type ReadablePage, type ReadableCaps } from './readable-page.ts';
export type { PageLink } from './page-links.ts';
export { classifyContentType, type TextType } from './text-types.ts';
export { browseFetchTool } from './browse-fetch-tool.ts';
export { pageTool } from './page-tool.ts';
export type { PageInput, PageAction } from './page-input.ts';
export type { PageOutput, PageStatus } from './page-output.ts';
