import { CordonError } from '../../core/errors.ts';
import type { JsonSchema } from '../tool.ts';

/** One step on the page, aimed at a CSS/Playwright selector or at a ref from an earlier snapshot. */
export interface PageAction {
  readonly type: 'click' | 'fill' | 'press' | 'waitFor';
  readonly selector?: string;
  readonly ref?: string;
  /** fill: the text typed into the field. */
  readonly value?: string;
  /** press: a key name as Playwright spells it (Enter, Tab, Control+A). */
  readonly key?: string;
  readonly timeoutMs?: number;
}

export interface PageInput {
  readonly url: string;
  readonly actions?: readonly PageAction[];
  /** A selector to wait for (visible) after the actions, before the page is read. */
  readonly waitFor?: string;
  readonly screenshot?: boolean;
  /** An accessibility snapshot whose `[ref=…]` marks later actions may name. */
  readonly snapshot?: boolean;
  readonly timeoutMs?: number;
}

export const MAX_URL_CHARS = 8192;
export const MAX_ACTIONS = 20;
export const MAX_SELECTOR_CHARS = 1024;
export const MAX_FILL_CHARS = 10_000;
export const DEFAULT_ACTION_TIMEOUT_MS = 5000;
export const MAX_ACTION_TIMEOUT_MS = 30_000;
/** Playwright's aria refs: `e12`, or `f3e12` inside a frame. */
const REF = /^(?:f\d{1,6})?e\d{1,7}$/;

const target = {
  selector: { type: 'string', minLength: 1, maxLength: MAX_SELECTOR_CHARS, description: 'A CSS or Playwright selector (text=…, role=…).' },
  ref: { type: 'string', pattern: REF.source, description: 'An element ref from the last snapshot of this page, e.g. "e12".' },
  timeoutMs: { type: 'integer', minimum: 1, maximum: MAX_ACTION_TIMEOUT_MS, description: `This action's own limit (default ${DEFAULT_ACTION_TIMEOUT_MS} ms), within the call's.` },
} as const;

const action = (type: string, extra: Record<string, unknown>, required: string[]): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  required: ['type', ...required],
  properties: { type: { const: type }, ...target, ...extra },
});

export const PAGE_INPUT_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_URL_CHARS,
      description:
        'An http(s) URL. In a session sandbox whose page is already at this URL (fragment aside), the call acts on the open page without loading it again; otherwise it navigates there.',
    },
    actions: {
      type: 'array',
      maxItems: MAX_ACTIONS,
      description: 'Steps run in order after the page loads; each names a selector or a ref (one of them).',
      items: {
        oneOf: [
          action('click', {}, []),
          action('fill', { value: { type: 'string', maxLength: MAX_FILL_CHARS } }, ['value']),
          action('press', { key: { type: 'string', minLength: 1, maxLength: 64 } }, ['key']),
          action('waitFor', {}, []),
        ],
      },
    },
    waitFor: { type: 'string', minLength: 1, maxLength: MAX_SELECTOR_CHARS, description: 'A selector to wait for after the actions, before the page is read.' },
    screenshot: { type: 'boolean', description: 'Return a PNG of the viewport (omitted, with the reason, when over the size cap).' },
    snapshot: { type: 'boolean', description: 'Return an accessibility snapshot with element refs ([ref=e5]) that later actions may name.' },
    timeoutMs: { type: 'integer', minimum: 1, description: "Wall-clock limit for the whole call; at most the profile's maximum." },
  },
};

/**
 * What the schema cannot say: an action names exactly one target (press may name none:
 * the focused element gets the key), and the URL is http(s). INPUT_INVALID names the field.
 */
export function checkPageInput(input: PageInput): void {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(input.url)?.[1]?.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    // file:, data:, chrome:, javascript:, about: … would read this machine or run script
    // outside any page the egress proxy served.
    invalid('/url', `browse.page: url must be an absolute http or https URL; ${JSON.stringify(scheme ?? input.url.slice(0, 40))} is refused`, 'scheme refused');
  }
  (input.actions ?? []).forEach((a, i) => {
    const named = (a.selector === undefined ? 0 : 1) + (a.ref === undefined ? 0 : 1);
    if (named > 1) invalid(`/actions/${i}`, `browse.page: actions[${i}] names both a selector and a ref; name one`, 'two targets');
    if (named === 0 && a.type !== 'press') invalid(`/actions/${i}`, `browse.page: actions[${i}] (${a.type}) needs a selector or a ref`, 'no target');
  });
}

function invalid(field: string, message: string, reason: string): never {
  throw new CordonError('INPUT_INVALID', message, { details: { tool: 'browse.page', field, reason } });
}
