import type { CDPSession, Page } from 'playwright-core';
import { EGRESS_REASONS, type EgressReasonCode } from '../../egress/index.ts';

/** Something the page tried that did not happen, and why. */
export interface BlockedRequest {
  readonly kind: 'request' | 'websocket' | 'download' | 'popup' | 'navigation';
  readonly url: string;
  /** An egress reason code (no_matching_rule, forbidden_address, …) or one of the page tool's own. */
  readonly code: string;
  readonly reason: string;
}

export const MAX_BLOCKED = 100;
const MAX_URL_CHARS = 2048;

/** The page tool's own refusals, next to the egress layer's reasons. */
export const PAGE_REFUSALS = {
  tunnel_refused: 'The egress proxy refused the tunnel (CONNECT) to this host: an https or websocket connection its policy does not allow.',
  websocket_refused: 'The websocket did not open: it goes through the egress proxy as a tunnel, which carries TLS (wss:) to allowed hosts only; plain ws: is refused.',
  download_refused: 'Downloads are refused; the browser keeps no files.',
  popup_closed: 'New windows (window.open, target=_blank) are closed; the call reads only its own page.',
  scheme_refused: 'Only http and https pages are read; file:, data:, chrome:, javascript: and other schemes are refused.',
} as const;

/**
 * Collects, for one page, what was refused: requests the egress proxy answered with
 * `X-Cordon-Error` (seen through the DevTools protocol, which reports response
 * headers even for responses the page never gets to read: an image blocked by ORB,
 * a fetch failing CORS), tunnels the proxy refused, websockets that never opened,
 * downloads and popups. `take()` returns what piled up since the last take.
 */
export interface BlockedCollector {
  add(entry: BlockedRequest): void;
  take(): BlockedRequest[];
  /** The refusal of one request URL seen since the last take, if any (a main frame's). */
  refusalOf(url: string): BlockedRequest | undefined;
}

export async function collectBlocked(page: Page, cdp: CDPSession): Promise<BlockedCollector> {
  const entries: BlockedRequest[] = [];
  let dropped = false;
  const urls = new Map<string, string>();
  const refused = new Map<string, EgressReasonCode>();
  const sockets = new Map<string, { url: string; opened: boolean; error: string | null }>();
  const add = (entry: BlockedRequest): void => {
    if (entries.length >= MAX_BLOCKED) dropped = true;
    else entries.push({ ...entry, url: entry.url.slice(0, MAX_URL_CHARS) });
  };
  // Headers and the request's URL come in either order; a refusal is listed once both are in.
  const settle = (id: string): void => {
    const url = urls.get(id);
    const code = refused.get(id);
    if (url === undefined || code === undefined) return;
    refused.delete(id);
    add({ kind: 'request', url, code, reason: EGRESS_REASONS[code].doc });
  };

  cdp.on('Network.requestWillBeSent', (e) => {
    if (urls.size > 10_000) urls.clear();
    urls.set(e.requestId, e.request.url);
    settle(e.requestId);
  });
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    const code = headerValue(e.headers, 'x-cordon-error');
    if (code === undefined || !(code in EGRESS_REASONS)) return;
    refused.set(e.requestId, code as EgressReasonCode);
    settle(e.requestId);
  });
  cdp.on('Network.loadingFailed', (e) => {
    const url = urls.get(e.requestId);
    if (url !== undefined && e.errorText === 'net::ERR_TUNNEL_CONNECTION_FAILED') add({ kind: 'request', url, code: 'tunnel_refused', reason: PAGE_REFUSALS.tunnel_refused });
  });
  cdp.on('Network.webSocketCreated', (e) => sockets.set(e.requestId, { url: e.url, opened: false, error: null }));
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    const s = sockets.get(e.requestId);
    if (s !== undefined) s.opened = true;
  });
  cdp.on('Network.webSocketFrameError', (e) => {
    const s = sockets.get(e.requestId);
    if (s !== undefined) s.error ??= e.errorMessage;
  });
  const closedSocket = (id: string): void => {
    const s = sockets.get(id);
    sockets.delete(id);
    if (s !== undefined && !s.opened) add({ kind: 'websocket', url: s.url, code: 'websocket_refused', reason: PAGE_REFUSALS.websocket_refused });
  };
  cdp.on('Network.webSocketClosed', (e) => closedSocket(e.requestId));
  await cdp.send('Network.enable');

  page.on('download', (download) => {
    add({ kind: 'download', url: download.url(), code: 'download_refused', reason: PAGE_REFUSALS.download_refused });
    void download.cancel().catch(() => undefined);
  });

  return {
    add,
    take() {
      // A websocket that failed without a close event yet still counts as refused.
      for (const [id, s] of sockets) if (!s.opened && s.error !== null) closedSocket(id);
      const out = entries.splice(0);
      if (dropped) out.push({ kind: 'request', url: '', code: 'truncated', reason: `more than ${MAX_BLOCKED} refusals; the rest are in the egress audit log` });
      dropped = false;
      return out;
    },
    refusalOf: (url) => entries.find((e) => e.kind === 'request' && e.url === url),
  };
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v.trim();
  return undefined;
}
