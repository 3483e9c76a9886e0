import type { BrowserContext } from 'playwright-core';
import type { Sandbox } from '../sandbox-backend.ts';

/**
 * One headless Chromium shared by every sandbox; each sandbox gets its own browser
 * context (cookies, storage, cache), whose every request goes through that sandbox's
 * egress channel with its own credentials. A context lives as long as its sandbox.
 */
export interface BrowserHost {
  /** The sandbox's own context, made on first use and closed when the sandbox ends. */
  contextFor(sandbox: Sandbox): Promise<BrowserContext>;
  stats(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}
