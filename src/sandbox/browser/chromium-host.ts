import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { CordonError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { Sandbox } from '../sandbox-backend.ts';
import type { BrowserHost } from './browser-host.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium-args.ts';

export interface ChromiumHostOptions {
  /** Debian's chromium unless a test says otherwise; never a downloaded browser. */
  readonly executablePath?: string;
  /** Starts the egress proxy's loopback listener (idempotent): a context's proxy URL needs its port. */
  readonly startProxy: () => Promise<void>;
  readonly launchTimeoutMs?: number;
  readonly logger: Logger;
}

/** A context's viewport; screenshots are of the viewport only, so this bounds their size too. */
export const VIEWPORT = Object.freeze({ width: 1280, height: 800 });

/**
 * One Chromium, started on first use and again after it died; one browser context per
 * sandbox, whose proxy is that sandbox's own channel with its own credentials. A context
 * is made from the sandbox's channel and nothing else, so no sandbox's pages can present
 * another's credentials; it closes when its sandbox ends.
 */
export function createChromiumHost(options: ChromiumHostOptions): BrowserHost {
  const executablePath = options.executablePath ?? CHROMIUM_PATH;
  let browser: Promise<Browser> | null = null;
  const contexts = new Map<string, Promise<BrowserContext>>();
  const watched = new WeakSet<Sandbox>();
  let closed = false;
  const counts = { browserLaunches: 0, browserExits: 0 };

  function launch(): Promise<Browser> {
    if (browser !== null) return browser;
    counts.browserLaunches += 1;
    const launching = chromium
      .launch({
        executablePath,
        args: [...CHROMIUM_ARGS],
        chromiumSandbox: false,
        timeout: options.launchTimeoutMs ?? 30_000,
        // Cordon handles its own signals and closes the browser in runtime.close().
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      })
      .catch((err: unknown) => {
        throw new CordonError('SANDBOX_UNAVAILABLE', `Chromium did not start from ${executablePath}: ${(err as Error).message.split('\n')[0] ?? ''}; install Debian's chromium package`, { cause: err });
      });
    browser = launching;
    launching.then(
      (b) => {
        b.on('disconnected', () => {
          if (browser === launching) browser = null;
          if (!closed) {
            counts.browserExits += 1;
            options.logger.warn({ executablePath }, 'Chromium exited; the next browse.page call starts it again');
          }
        });
      },
      () => {
        if (browser === launching) browser = null;
      },
    );
    return launching;
  }

  async function newContext(sandbox: Sandbox): Promise<BrowserContext> {
    const egress = sandbox.egress;
    if (egress === null) {
      throw new CordonError('EGRESS_DENIED', `sandbox ${sandbox.identity.id} (profile "${sandbox.identity.profile}") has no egress policy, so it has no network for a browser; give the profile an egressPolicy (sandboxes/browser.yaml uses browse-open)`, {
        details: { reason: 'no_egress_policy' },
      });
    }
    await options.startProxy();
    const channel = await egress.channel();
    if (channel.proxyUrl === null) throw new CordonError('SANDBOX_UNAVAILABLE', "the egress proxy's loopback channel is off, and a browser has no other way out");
    const b = await launch();
    return b.newContext({
      // This sandbox's channel, with its credentials; `<-loopback>` so that loopback
      // goes through the proxy too instead of straight out (Chromium's default).
      proxy: { server: channel.proxyUrl, username: channel.username, password: channel.password, bypass: '<-loopback>' },
      serviceWorkers: 'block',
      acceptDownloads: false,
      viewport: VIEWPORT,
      permissions: [],
    });
  }

  return {
    contextFor(sandbox) {
      if (closed) return Promise.reject(new CordonError('UNAVAILABLE', 'the browser is shutting down'));
      const id = sandbox.identity.id;
      const known = contexts.get(id);
      if (known !== undefined) return known;
      if (!sandbox.alive()) return Promise.reject(new CordonError('SANDBOX_NOT_FOUND', `sandbox ${id} has ended`));
      const made = newContext(sandbox).then(async (context) => {
        // A context whose browser died, or that was closed, is never handed out again.
        context.on('close', () => {
          if (contexts.get(id) === made) contexts.delete(id);
        });
        if (!sandbox.alive() || closed) {
          await context.close().catch(() => undefined);
          throw new CordonError('SANDBOX_NOT_FOUND', `sandbox ${id} ended while its browser context was made`);
        }
        return context;
      });
      made.catch(() => {
        if (contexts.get(id) === made) contexts.delete(id);
      });
      contexts.set(id, made);
      if (!watched.has(sandbox)) {
        watched.add(sandbox);
        sandbox.onEnd(() => {
          const context = contexts.get(id);
          contexts.delete(id);
          void context?.then((c) => c.close()).catch(() => undefined);
        });
      }
      return made;
    },
    stats: () => ({ ...counts, browserContexts: contexts.size }),
    async close() {
      closed = true;
      const open = browser;
      browser = null;
      contexts.clear();
      if (open !== null) await open.then((b) => b.close()).catch(() => undefined);
    },
  };
}
