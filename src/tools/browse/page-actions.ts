import type { Locator, Page } from 'playwright-core';
import { DEFAULT_ACTION_TIMEOUT_MS, type PageAction } from './page-input.ts';

export interface ActionFailure {
  readonly index: number;
  readonly message: string;
}

/**
 * Runs the actions in order, each under its own limit and never past the call's
 * deadline; stops at the first that fails. A ref resolves against the page's last
 * snapshot (Playwright's `aria-ref` engine), so a ref from before a navigation fails
 * with a clear error instead of hitting some other element.
 */
export async function runActions(page: Page, actions: readonly PageAction[], deadlineMs: number): Promise<ActionFailure | null> {
  for (const [index, action] of actions.entries()) {
    const timeout = Math.max(1, Math.min(action.timeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS, deadlineMs - Date.now()));
    try {
      await runAction(page, action, timeout);
    } catch (err) {
      return { index, message: `actions[${index}] (${action.type} ${describeTarget(action)}): ${firstLine(err)}` };
    }
  }
  return null;
}

function runAction(page: Page, action: PageAction, timeout: number): Promise<unknown> {
  switch (action.type) {
    case 'click':
      return target(page, action).click({ timeout });
    case 'fill':
      return target(page, action).fill(action.value ?? '', { timeout });
    case 'press':
      return action.selector === undefined && action.ref === undefined ? page.keyboard.press(action.key ?? '') : target(page, action).press(action.key ?? '', { timeout });
    case 'waitFor':
      return target(page, action).waitFor({ state: 'visible', timeout });
  }
}

function target(page: Page, action: PageAction): Locator {
  return action.ref !== undefined ? page.locator(`aria-ref=${action.ref}`) : page.locator(action.selector ?? '').first();
}

function describeTarget(action: PageAction): string {
  if (action.ref !== undefined) return `ref ${action.ref}`;
  if (action.selector !== undefined) return JSON.stringify(action.selector.slice(0, 100));
  return 'focused element';
}

/** Playwright's messages carry a call log after the first line; the first line says it. */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').slice(0, 500);
}
