import type { BrowserContext } from 'playwright-core';
import { CordonError } from '../../core/errors.ts';
import { EGRESS_REASONS, type EgressReasonCode } from '../../egress/index.ts';
import type { ToolContext, ToolDefinition } from '../tool.ts';
import { PAGE_REFUSALS, type BlockedRequest } from './blocked-requests.ts';
import { firstLine, runActions } from './page-actions.ts';
import { checkPageInput, PAGE_INPUT_SCHEMA, type PageInput } from './page-input.ts';
import { PAGE_OUTPUT_SCHEMA, type PageOutput, type PageStatus } from './page-output.ts';
import { PageTimeout, readPage, screenshotPage, snapshotPage, withTimeout, type PageReading, type Screenshot } from './page-read.ts';
import { dropPage, inTurn, openPage, type OpenPage, type PageDialog } from './page-session.ts';
import { urlResource } from './url-resource.ts';

/** How long a page may keep loading subresources after its document is in, before it is read anyway. */
const LOAD_WAIT_MS = 5000;
/** How long closing a hung page may take before its whole context goes instead. */
const CLOSE_WAIT_MS = 3000;

export const pageTool: ToolDefinition<PageInput, PageOutput> = {
  name: 'browse.page',
  description:
    "Loads a web page in headless Chromium and reads it: final URL, title, readable text, links, and what was refused (requests the egress policy blocked, downloads, popups), optionally a PNG of the viewport and an accessibility snapshot whose [ref=eN] marks later actions may name. Actions (click, fill, press, waitFor) run in order after the page loads. Every request the page makes goes through the sandbox's egress policy; file:, data:, chrome: and other non-http pages and downloads are refused. In a session sandbox (POST /v1/sandboxes, profile browser) the page stays open between calls: a call naming the page's current URL acts on it without reloading.",
  inputSchema: PAGE_INPUT_SCHEMA,
  outputSchema: PAGE_OUTPUT_SCHEMA,
  actions: ['browse.page'],
  action: () => 'browse.page',
  backends: ['isolate'],
  annotations: { title: 'Browse a page', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  // Without actions a call only reads; a click or a fill may submit a form.
  annotationsFor: (input) => ({ title: 'Browse a page', readOnlyHint: (input.actions ?? []).length === 0, destructiveHint: false, idempotentHint: false, openWorldHint: true }),

  /**
   * The URL the call names, as the egress layer canonicalises it (the host Cedar sees is the
   * host the proxy dials). A session's later call acts on its open page only when the page is
   * at this URL, so the resource is always the page the call starts on; each request the
   * page then makes is decided again, as `net.fetch`, by the proxy.
   */
  resource: (input, context) => urlResource('browse.page', input.url, context),

  limits(input, profile) {
    checkPageInput(input);
    const max = profile.limits;
    if (input.timeoutMs !== undefined && input.timeoutMs > max.maxTimeoutMs) {
      throw new CordonError('INPUT_INVALID', `browse.page: input/timeoutMs must be at most ${max.maxTimeoutMs} (the sandbox profile's maximum)`, { details: { tool: 'browse.page', field: '/timeoutMs', reason: `must be <= ${max.maxTimeoutMs}` } });
    }
    return { timeoutMs: input.timeoutMs ?? max.timeoutMs, memoryMb: max.memoryMb, outputBytes: max.outputBytes, resultBytes: max.resultBytes };
  },

  async run(input, context) {
    const started = performance.now();
    if (context.browser === null) throw new CordonError('SANDBOX_UNAVAILABLE', 'browse.page needs Chromium, and this runner has no browser set up');
    if (context.sandbox.egress === null) {
      throw new CordonError('EGRESS_DENIED', `browse.page: sandbox profile "${context.sandbox.identity.profile}" gives this sandbox no network (no egress policy); use a profile with one, such as "browser"`, { details: { reason: 'no_egress_policy' } });
    }
    const deadline = Date.now() + context.limits.timeoutMs;
    const browserContext = await context.browser.contextFor(context.sandbox).catch(browserFailed);
    const output = await inTurn(browserContext, () => browse(browserContext, input, context, deadline)).catch(browserFailed);
    const result: PageOutput = { ...output, durationMs: Math.round(performance.now() - started) };
    return { output: result, status: result.status, failed: result.status !== 'ok' };
  },
};

type Draft = Omit<PageOutput, 'durationMs'>;

/** One call on the context's page: navigate (unless it is there), act, read; never past the deadline. */
async function browse(browserContext: BrowserContext, input: PageInput, context: ToolContext, deadline: number): Promise<Draft> {
  const left = () => Math.max(1, deadline - Date.now());
  if (Date.now() >= deadline) {
    // The sandbox's previous call took all of this one's time; its page is left as it is.
    return { status: 'timeout', url: '', navigated: false, title: '', text: '', links: [], truncated: false, blocked: [], dialogs: [], error: { message: `browse.page waited ${context.limits.timeoutMs} ms for this sandbox's previous call and did not start` } };
  }
  const open = await withTimeout(openPage(browserContext), left(), 'opening a page');
  // What the page did between calls is not this call's to report.
  open.blocked.take();
  open.takeDialogs();
  const call: CallState = { status: 'ok', error: null, navigated: false, reading: null, snapshot: null, screenshot: null };
  const steps = runSteps(open, input, call, deadline);
  try {
    await untilDeadline(steps, left(), context.signal);
  } catch (err) {
    steps.catch(() => undefined);
    if (!isConnected(browserContext)) throw new CordonError('SANDBOX_FAILED', 'Chromium exited during the call; the next call starts it again', { cause: err });
    const cancelled = context.signal?.aborted === true;
    // A page that overran (a script in a loop, a DOM too large to read) is closed, and with
    // it whatever it was doing; the next call opens a fresh one.
    if (!(await dropPage(browserContext, CLOSE_WAIT_MS))) await browserContext.close().catch(() => undefined);
    if (cancelled) throw new CordonError('CALL_CANCELLED', 'the caller went away; the page was closed');
    if (err instanceof PageTimeout) {
      call.status = 'timeout';
      call.error = { message: `browse.page did not finish within ${context.limits.timeoutMs} ms (${err.message}); the page was closed, and the next call opens a new one` };
    } else {
      call.status = 'error';
      call.error = { message: open.crashed() ? "the page's renderer crashed; the next call opens a new page" : firstLine(err) };
    }
  }
  return draft(open, call);
}

interface CallState {
  status: PageStatus;
  error: { message: string; action?: number } | null;
  navigated: boolean;
  reading: PageReading | null;
  snapshot: { snapshot: string; truncated: boolean } | null;
  screenshot: Screenshot | null;
  /** Where the call ended when the page was since cleared (a refused page). */
  url?: string;
}

async function runSteps(open: OpenPage, input: PageInput, call: CallState, deadline: number): Promise<void> {
  const { page } = open;
  const left = () => Math.max(1, deadline - Date.now());
  if (withoutFragment(page.url()) !== withoutFragment(input.url)) {
    call.navigated = true;
    let refusal: string | undefined;
    try {
      const response = await page.goto(input.url, { waitUntil: 'domcontentloaded', timeout: left() });
      refusal = response?.headers()['x-cordon-error'];
    } catch (err) {
      const message = firstLine(err);
      const blocked = /Download is starting/.test(message) || open.blocked.refusalOf(input.url) !== undefined || /ERR_TUNNEL_CONNECTION_FAILED/.test(message);
      call.status = blocked ? 'blocked' : 'error';
      call.error = { message: /Download is starting/.test(message) ? `${input.url} is a download; downloads are refused` : message };
      return;
    }
    if (refusal !== undefined) {
      // The egress proxy answered for the page itself: its body is Cordon's refusal, not a page.
      const reason = refusal in EGRESS_REASONS ? EGRESS_REASONS[refusal as EgressReasonCode].doc : refusal;
      call.status = 'blocked';
      call.error = { message: `the egress proxy refused ${page.url().slice(0, 2048)} (${refusal}): ${reason}` };
      // The refusal is not a page to act on later: a session's next call to this URL loads it again.
      call.url = page.url();
      await page.goto('about:blank', { timeout: left() }).catch(() => undefined);
      return;
    }
    await page.waitForLoadState('load', { timeout: Math.min(LOAD_WAIT_MS, left()) }).catch(() => undefined);
  }
  const failed = await runActions(page, input.actions ?? [], deadline);
  if (failed !== null) {
    call.status = 'error';
    call.error = { message: failed.message, action: failed.index };
  }
  if (input.waitFor !== undefined && failed === null) {
    try {
      await page.locator(input.waitFor).first().waitFor({ state: 'visible', timeout: left() });
    } catch (err) {
      call.status = 'error';
      call.error = { message: `waitFor ${JSON.stringify(input.waitFor.slice(0, 100))}: ${firstLine(err)}` };
    }
  }
  if (!readable(page.url())) {
    // Chromium itself refuses web pages' navigations to file:, chrome: and the like; this is
    // the check that holds if it ever did not: such a page is never read.
    open.blocked.add({ kind: 'navigation', url: page.url(), code: 'scheme_refused', reason: PAGE_REFUSALS.scheme_refused });
    await page.goto('about:blank', { timeout: left() }).catch(() => undefined);
    call.status = 'blocked';
    call.error = { message: 'the page navigated to a URL that is not http or https; it was not read' };
    return;
  }
  call.reading = await readPage(page, page.url(), left());
  if (input.snapshot === true) call.snapshot = await snapshotPage(page, left());
  if (input.screenshot === true) call.screenshot = await screenshotPage(page, left());
}

function draft(open: OpenPage, call: CallState): Draft {
  const blocked: BlockedRequest[] = open.blocked.take();
  const dialogs: PageDialog[] = open.takeDialogs();
  const r = call.reading;
  return {
    status: call.status,
    url: (call.url ?? open.page.url()).slice(0, 8192),
    navigated: call.navigated,
    title: r?.title ?? '',
    text: r?.text ?? '',
    links: r?.links ?? [],
    truncated: (r?.truncated ?? false) || (call.snapshot?.truncated ?? false),
    blocked,
    dialogs,
    ...(call.snapshot === null ? {} : { snapshot: call.snapshot.snapshot }),
    ...(call.screenshot === null ? {} : { screenshot: call.screenshot }),
    ...(call.error === null ? {} : { error: call.error }),
  };
}

/** Refusals stay as they are; anything else from the browser's side fails only this call, typed. */
function browserFailed(err: unknown): never {
  if (err instanceof CordonError) throw err;
  throw new CordonError('SANDBOX_FAILED', `the browser failed: ${firstLine(err)}; the next call starts it again`, { cause: err });
}

function readable(url: string): boolean {
  return /^https?:\/\//i.test(url) || url === 'about:blank';
}

function withoutFragment(url: string): string {
  try {
    const u = new URL(url);
    u.hash = '';
    return u.href;
  } catch {
    return url;
  }
}

function isConnected(context: BrowserContext): boolean {
  return context.browser()?.isConnected() ?? false;
}

/** The work, or a PageTimeout at the deadline, or a rejection when the caller goes away. */
function untilDeadline<T>(work: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return withTimeout(work, ms, 'the call');
  if (signal.aborted) return Promise.reject(new Error('cancelled'));
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return withTimeout(Promise.race([work, aborted]), ms, 'the call').finally(() => signal.removeEventListener('abort', onAbort));
}
