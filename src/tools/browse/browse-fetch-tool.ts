import { CordonError } from '../../core/errors.ts';
import { EGRESS_REASONS, errorCodeFor, type EgressReasonCode } from '../../egress/index.ts';
import type { HostFetchResponse } from '../../sandbox/index.ts';
import type { ToolDefinition } from '../tool.ts';
import type { PageLink } from './page-links.ts';
import { sharedReaders } from './readable-pool.ts';
import { classifyContentType } from './text-types.ts';
import { MAX_URL_CHARS, urlResource, urlTarget } from './url-resource.ts';

export interface BrowseFetchInput {
  url: string;
  maxBytes?: number;
  format?: 'text' | 'html';
}

export interface BrowseFetchOutput {
  /** Where the last redirect led. */
  url: string;
  status: number;
  contentType: string;
  title: string;
  /** Readable text (HTML made readable, or a text type as it is); HTML itself with format "html". */
  text: string;
  links: PageLink[];
  truncated: boolean;
}

const DEFAULT_MAX_BYTES = 2 * 1024 * 1024;
/** A response over maxBytes is refused by the guard (EGRESS_UPSTREAM_FAILED, byte_limit), never half-read. */
const MAX_MAX_BYTES = 16 * 1024 * 1024;
const MAX_LINKS = 500;
/** The most a page may take to read, within the call's own time. */
const MAX_READ_MS = 10_000;


/** A refusal by the guard or the policy engine, as the error the caller sees. */
function refusalError(url: string, refused: NonNullable<HostFetchResponse['refused']>): CordonError {
  const known = Object.hasOwn(EGRESS_REASONS, refused.code) ? (refused.code as EgressReasonCode) : null;
  const mapped = known === null ? null : errorCodeFor(known);
  const code = mapped ?? 'EGRESS_DENIED';
  return new CordonError(code, `browse.fetch: ${url}: ${refused.reason}`, { details: { reason: refused.code, url } });
}

function header(r: HostFetchResponse, name: string): string | null {
  return r.headers.find(([k]) => k.toLowerCase() === name)?.[1] ?? null;
}

/** The body as text in the charset the response names (UTF-8 when it names none or one we lack). */
function decodeBody(body: Uint8Array, contentType: string): string {
  const charset = /;\s*charset="?([A-Za-z0-9._:-]{1,40})"?/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

export const browseFetchTool: ToolDefinition<BrowseFetchInput, BrowseFetchOutput> = {
  name: 'browse.fetch',
  description:
    "Fetches a web page through the sandbox's egress policy (every redirect decided afresh) and returns it readable: HTML becomes the page's title, main text and absolute links; text types (plain, JSON, XML, CSV…) come back as they are; binary content is refused (BROWSE_CONTENT_UNSUPPORTED). format \"html\" returns the HTML itself. Content from hosts whose egress policy is not trusted marks the session as having read untrusted content.",
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['url'],
    properties: {
      url: { type: 'string', minLength: 1, maxLength: MAX_URL_CHARS, description: 'An absolute http or https URL.' },
      maxBytes: { type: 'integer', minimum: 1, maximum: MAX_MAX_BYTES, description: `The largest response accepted (default ${DEFAULT_MAX_BYTES}); a larger one is refused, not cut.` },
      format: { enum: ['text', 'html'], description: 'text (default): readable text and links; html: the markup itself.' },
    },
  },
  outputSchema: {
    type: 'object',
    required: ['url', 'status', 'contentType', 'title', 'text', 'links', 'truncated'],
    properties: {
      url: { type: 'string' }, status: { type: 'integer' }, contentType: { type: 'string' }, title: { type: 'string' }, text: { type: 'string' },
      links: { type: 'array', items: { type: 'object', required: ['href', 'text'], properties: { href: { type: 'string' }, text: { type: 'string' } } } },
      truncated: { type: 'boolean' },
    },
  },
  actions: ['net.fetch'],
  action: () => 'net.fetch',
  backends: ['isolate', 'container'],
  annotations: { title: 'Fetch a web page', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  resource: (input, context) => urlResource('browse.fetch', input.url, context),

  limits(input, profile) {
    urlTarget('browse.fetch', input.url);
    const l = profile.limits;
    return { timeoutMs: l.timeoutMs, memoryMb: l.memoryMb, outputBytes: l.outputBytes, resultBytes: l.resultBytes };
  },

  async run(input, context) {
    const egress = context.sandbox.egress;
    if (egress === null) {
      throw new CordonError('EGRESS_DENIED', `browse.fetch: sandbox profile "${context.profile.name}" has no network (egressPolicy: null); use a profile with an egress policy`, { details: { reason: 'no_egress', profile: context.profile.name } });
    }
    const started = performance.now();
    const deadline = AbortSignal.timeout(context.limits.timeoutMs);
    const signal = context.signal === undefined ? deadline : AbortSignal.any([deadline, context.signal]);
    let r: HostFetchResponse;
    try {
      r = await egress.fetch({ url: input.url, method: 'GET', headers: [['accept', 'text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5']], body: null, redirect: 'follow' }, signal, { maxResponseBytes: input.maxBytes ?? DEFAULT_MAX_BYTES });
    } catch (err) {
      if (deadline.aborted) throw new CordonError('EGRESS_UPSTREAM_TIMEOUT', `browse.fetch: ${input.url} did not answer within ${context.limits.timeoutMs} ms`, { cause: err, details: { reason: 'timeout' } });
      throw err;
    }
    if (r.refused !== undefined) throw refusalError(r.url, r.refused);
    const contentType = header(r, 'content-type') ?? '';
    const kind = classifyContentType(contentType);
    if (kind === 'binary') {
      throw new CordonError('BROWSE_CONTENT_UNSUPPORTED', `browse.fetch: ${r.url} answered ${JSON.stringify(contentType.slice(0, 100) || 'no content type')}, which is not text or HTML; browse.fetch reads pages and text only`, { details: { contentType: contentType.slice(0, 100), url: r.url } });
    }
    // Text is cut to what fits the profile's result size, whatever it holds.
    const maxTextChars = Math.max(1024, Math.floor(context.limits.resultBytes / 4));
    const body = decodeBody(r.body, contentType);
    let output: BrowseFetchOutput;
    if (kind === 'html' && input.format !== 'html') {
      const left = Math.max(1, Math.min(MAX_READ_MS, context.limits.timeoutMs - (performance.now() - started)));
      const page = await sharedReaders().read(body, r.url, { maxTextChars, maxLinks: MAX_LINKS }, left);
      output = { url: r.url, status: r.status, contentType, title: page.title, text: page.text, links: page.links, truncated: page.truncated };
    } else {
      const cut = body.length > maxTextChars;
      output = { url: r.url, status: r.status, contentType, title: '', text: cut ? body.slice(0, maxTextChars) : body, links: [], truncated: cut };
    }
    const failed = r.status >= 400;
    return { output, status: failed ? 'http_error' : 'ok', failed };
  },
};
