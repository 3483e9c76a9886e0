import type { BrowserContext, Page } from 'playwright-core';
import { collectBlocked, PAGE_REFUSALS, type BlockedCollector } from './blocked-requests.ts';

export interface PageDialog {
  readonly type: string;
  readonly message: string;
}

/** The page a sandbox's calls act on, and what it saw; one per browser context. */
export interface OpenPage {
  readonly page: Page;
  readonly blocked: BlockedCollector;
  /** alert/confirm/prompt dialogs, each dismissed as it opened. */
  takeDialogs(): PageDialog[];
  /** The renderer crashed: the page is gone and is replaced on the next call. */
  crashed(): boolean;
}

const MAX_DIALOGS = 20;
const MAX_DIALOG_CHARS = 500;

interface ContextState {
  open: Promise<OpenPage> | null;
  /** The page being opened by open(): the next 'page' event is it, not a popup. */
  opening: boolean;
  main: OpenPage | null;
  /** Calls on one context run one at a time, in order: they share its page. */
  turn: Promise<unknown>;
}

const states = new WeakMap<BrowserContext, ContextState>();

/** Runs `work` in the context's turn, after the calls before it have finished. */
export function inTurn<T>(context: BrowserContext, work: () => Promise<T>): Promise<T> {
  const state = stateOf(context);
  const run = state.turn.then(work, work);
  state.turn = run.catch(() => undefined);
  return run;
}

/** The context's page, opened (with its watchers) if there is none or it is gone. */
export function openPage(context: BrowserContext): Promise<OpenPage> {
  const state = stateOf(context);
  const current = state.open;
  if (current !== null) {
    return current.then(
      (p) => (p.page.isClosed() || p.crashed() ? replace(context, state) : p),
      () => replace(context, state),
    );
  }
  return replace(context, state);
}

/** Closes the context's page (a hung or crashed one); the next call opens a fresh one. */
export async function dropPage(context: BrowserContext, timeoutMs: number): Promise<boolean> {
  const state = stateOf(context);
  const current = state.open;
  state.open = null;
  if (current === null) return true;
  const page = await current.then((p) => p.page, () => null);
  if (page === null) return true;
  // Closing a page whose renderer spins in a loop still works: the browser ends the renderer.
  return Promise.race([page.close({ runBeforeUnload: false }).then(() => true, () => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref())]);
}

function stateOf(context: BrowserContext): ContextState {
  let state = states.get(context);
  if (state === undefined) {
    const made: ContextState = { open: null, opening: false, main: null, turn: Promise.resolve() };
    state = made;
    states.set(context, state);
    watchPopups(context, made);
  }
  return state;
}

function replace(context: BrowserContext, state: ContextState): Promise<OpenPage> {
  const opening = open(context, state);
  state.open = opening;
  return opening;
}

async function open(context: BrowserContext, state: ContextState): Promise<OpenPage> {
  state.opening = true;
  let page: Page;
  try {
    page = await context.newPage();
  } finally {
    state.opening = false;
  }
  const dialogs: PageDialog[] = [];
  let crashed = false;
  // An alert() left open would block every later step on the page.
  page.on('dialog', (dialog) => {
    if (dialogs.length < MAX_DIALOGS) dialogs.push({ type: dialog.type(), message: dialog.message().slice(0, MAX_DIALOG_CHARS) });
    void dialog.dismiss().catch(() => undefined);
  });
  page.on('crash', () => (crashed = true));
  const blocked: BlockedCollector = await collectBlocked(page, await context.newCDPSession(page));
  const opened: OpenPage = { page, blocked, takeDialogs: () => dialogs.splice(0), crashed: () => crashed };
  state.main = opened;
  return opened;
}

/** Any page but the one open() makes is a popup: closed at once, and listed on the main page. */
function watchPopups(context: BrowserContext, state: ContextState): void {
  context.on('page', (page) => {
    if (state.opening) return;
    state.main?.blocked.add({ kind: 'popup', url: page.url(), code: 'popup_closed', reason: PAGE_REFUSALS.popup_closed });
    void page.close({ runBeforeUnload: false }).catch(() => undefined);
  });
}
