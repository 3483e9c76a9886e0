/**
 * How Cordon starts Chromium. Every flag here closes a way out that does not go
 * through a sandbox's proxy channel; the per-context proxy (chromium-host.ts) is
 * the only way in or out that is left.
 */

/** Debian's package; nothing ever downloads a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Where requests go that belong to no sandbox's context (the default context, the
 * browser's own housekeeping): a loopback port nothing listens on, so they fail
 * instead of leaving directly.
 */
const NOWHERE_PROXY = 'http://127.0.0.1:1';

export const CHROMIUM_ARGS: readonly string[] = Object.freeze([
  // Chromium's own sandbox needs user namespaces we may not have; the browser runs
  // as Cordon's user, and pages reach the network only through the proxy below.
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-default-apps',
  '--disable-breakpad',
  '--disable-domain-reliability',
  '--no-pings',
  // Chromium resolves nothing itself: every name fails except the proxy's own
  // address, so a request that somehow skips the proxy cannot even find its host.
  // The proxy resolves through the egress guard, which checks every address.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  // Loopback is proxied too (Chromium bypasses it by default), and so is anything
  // outside a sandbox's context, into a dead end.
  `--proxy-server=${NOWHERE_PROXY}`,
  '--proxy-bypass-list=<-loopback>',
  // QUIC and WebRTC's UDP would not go through an HTTP proxy at all.
  '--disable-quic',
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
  '--webrtc-ip-handling-policy=disable_non_proxied_udp',
  // A page's scripts get a bounded heap: one that eats memory kills its own renderer, not the machine.
  '--js-flags=--max-old-space-size=512',
]);
