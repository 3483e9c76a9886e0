import type { JsonSchema } from '../tool.ts';
import type { BlockedRequest } from './blocked-requests.ts';
import type { PageLink } from './page-links.ts';
import type { PageDialog } from './page-session.ts';
import type { Screenshot } from './page-read.ts';

/**
 * ok: loaded, acted and read. blocked: the page itself was refused (by the egress policy,
 * as a download, or for its scheme). error: an action, waitFor or the page failed.
 * timeout: the call overran and its page was closed.
 */
export type PageStatus = 'ok' | 'blocked' | 'error' | 'timeout';

export interface PageOutput {
  readonly status: PageStatus;
  /** Where the page is now, after redirects and actions. */
  readonly url: string;
  /** False when a session's open page was already at the URL and was acted on as it was. */
  readonly navigated: boolean;
  readonly title: string;
  readonly text: string;
  readonly links: readonly PageLink[];
  readonly truncated: boolean;
  readonly blocked: readonly BlockedRequest[];
  readonly dialogs: readonly PageDialog[];
  readonly snapshot?: string;
  readonly screenshot?: Screenshot;
  readonly error?: { readonly message: string; readonly action?: number };
  readonly durationMs: number;
}

const text = { type: 'string' } as const;

export const PAGE_OUTPUT_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['status', 'url', 'navigated', 'title', 'text', 'links', 'truncated', 'blocked', 'dialogs', 'durationMs'],
  properties: {
    status: { enum: ['ok', 'blocked', 'error', 'timeout'] },
    url: text,
    navigated: { type: 'boolean' },
    title: text,
    text,
    links: { type: 'array', items: { type: 'object', properties: { href: text, text } } },
    truncated: { type: 'boolean' },
    blocked: {
      type: 'array',
      description: 'Requests, websockets, downloads, popups and navigations that were refused, with the reason code (the egress audit log has each request too).',
      items: { type: 'object', properties: { kind: { enum: ['request', 'websocket', 'download', 'popup', 'navigation'] }, url: text, code: text, reason: text } },
    },
    dialogs: { type: 'array', items: { type: 'object', properties: { type: text, message: text } }, description: 'alert/confirm/prompt dialogs, each dismissed.' },
    snapshot: { type: 'string', description: 'Accessibility snapshot (YAML) with [ref=eN] marks for actions.' },
    screenshot: { type: 'object', properties: { mimeType: { const: 'image/png' }, base64: text, bytes: { type: 'integer' }, omitted: text } },
    error: { type: 'object', properties: { message: text, action: { type: 'integer' } } },
    durationMs: { type: 'number' },
  },
};
