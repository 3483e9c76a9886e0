import type { Logger } from '../../core/logger.ts';
import { createChromiumHost, type BrowserHost } from '../../sandbox/index.ts';

/**
 * The shared browser for browse.page. Nothing starts here: Chromium is launched by the
 * first call that browses (so runs and tests that never browse never start it), and
 * again after it died. Its contexts reach the network only through the egress proxy's
 * loopback channel, which the first context starts if the server has not.
 */
export function wireBrowser(deps: { startProxy: () => Promise<void>; logger: Logger }): BrowserHost {
  return createChromiumHost({ startProxy: deps.startProxy, logger: deps.logger });
}
