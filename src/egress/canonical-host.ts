import { canonicalIp, parseIp } from './ip-address.ts';
import { classifyIp } from './classify-address.ts';
import { hasControlOrSpace } from './text-checks.ts';

/**
 * Turning what a sandbox asked for into one canonical (scheme, host, port, path).
 * Everything downstream — rule matching, resolution, the Host header we send —
 * uses these values and never the raw input, so there is exactly one spelling
 * of each destination to reason about.
 */
export type EgressScheme = 'http' | 'https' | 'connect';
export type HostKind = 'dns' | 'ipv4' | 'ipv6';

export interface EgressTarget {
  readonly scheme: EgressScheme;
  /** Lower case, punycode, no trailing dot; IPv4 dotted quad; IPv6 without brackets. */
  readonly host: string;
  readonly hostKind: HostKind;
  readonly port: number;
  /** The normalised path (WHATWG), or null for CONNECT where it is not visible. */
  readonly path: string | null;
  /** `?query` or '' (never matched, never audited). */
  readonly search: string;
  /** The request method, or null for CONNECT. */
  readonly method: string | null;
}

export type ParseTargetResult =
  | { readonly ok: true; readonly target: EgressTarget }
  | { readonly ok: false; readonly reason: string };

export type CanonicalHostResult =
  | { readonly ok: true; readonly host: string; readonly kind: HostKind }
  | { readonly ok: false; readonly reason: string };

// C0 controls, space and DEL: the URL parser silently strips tab/CR/LF and trims
// leading/trailing controls, so `exa\nmple.com` would become `example.com` after
// the caller may have logged or checked something else. Refuse them outright.

/** Default port of a scheme (CONNECT tunnels are TLS, so 443). */
export function defaultPort(scheme: EgressScheme): number {
  return scheme === 'http' ? 80 : 443;
}

/**
 * Canonicalises a bare host (no port, IPv6 without brackets or with them).
 * Used for request hosts and for hosts written in policies, so both sides match.
 */
export function canonicalHost(raw: string): CanonicalHostResult {
  if (raw === '') return { ok: false, reason: 'empty host' };
  if (hasControlOrSpace(raw)) return { ok: false, reason: 'host contains a control character or space' };
  if (raw.includes('%')) return { ok: false, reason: 'host contains "%" (percent-encoding or an IPv6 zone id)' };
  if (/[/?#@\\[\]]/.test(raw.replace(/^\[(.*)\]$/, '$1'))) return { ok: false, reason: 'host contains one of / ? # @ \\ [ ]' };
  const bracketed = raw.startsWith('[') && raw.endsWith(']');
  const inner = bracketed ? raw.slice(1, -1) : raw;
  if (inner.includes(':')) {
    const ip = parseIp(inner);
    if (ip === null || ip.family !== 6) return { ok: false, reason: `"${raw}" is not a valid IPv6 address` };
    return fromIp(classifyIp(ip).address);
  }
  if (bracketed) return { ok: false, reason: `"${raw}": only IPv6 addresses go in brackets` };
  let hostname: string;
  try {
    // The WHATWG host parser: IDNA to punycode, lower case, and every IPv4 spelling
    // (0x7f.1, 2130706433, 0177.0.0.1) to a dotted quad.
    hostname = new URL(`http://${inner}/`).hostname;
  } catch {
    return { ok: false, reason: `"${raw}" is not a valid host name` };
  }
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1);
  if (hostname === '' || hostname.split('.').some((label) => label === '')) {
    return { ok: false, reason: `"${raw}" has an empty label` };
  }
  if (parseIp(hostname)?.family === 4) return { ok: true, host: hostname, kind: 'ipv4' };
  if (hostname.length > 253) return { ok: false, reason: 'host name longer than 253 characters' };
  return { ok: true, host: hostname, kind: 'dns' };
}

function fromIp(address: string): CanonicalHostResult {
  // IPv4-mapped (and -compatible) IPv6 is that IPv4: one spelling per destination.
  const canonical = canonicalIp(address);
  if (canonical === null) return { ok: false, reason: `"${address}" is not an IP address` };
  return { ok: true, host: canonical, kind: canonical.includes(':') ? 'ipv6' : 'ipv4' };
}

/** `http(s)://…` for a request, in absolute form. */
export function parseUrlTarget(rawUrl: string, method: string): ParseTargetResult {
  if (hasControlOrSpace(rawUrl)) return { ok: false, reason: 'URL contains a control character or space' };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(rawUrl)?.[1]?.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    return { ok: false, reason: `scheme "${scheme ?? ''}" is not allowed; only http, https and CONNECT` };
  }
  const afterScheme = rawUrl.slice(scheme.length + 1);
  if (!afterScheme.startsWith('//')) return { ok: false, reason: 'URL must be absolute: scheme://host/path' };
  // The authority as written, before the URL parser rewrites it. Userinfo is refused
  // rather than dropped: `http://allowed.com@evil.com/` is the classic confusion.
  const authority = afterScheme.slice(2).split(/[/?#\\]/, 1)[0] ?? '';
  if (authority.includes('@')) return { ok: false, reason: 'URL contains userinfo (user@host); not allowed' };
  if (authority.includes('%')) return { ok: false, reason: 'URL host contains "%" (percent-encoding or an IPv6 zone id)' };
  if (!isToken(method)) return { ok: false, reason: 'method is not a valid HTTP token' };
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, reason: 'URL does not parse' };
  }
  const host = canonicalHost(url.hostname);
  if (!host.ok) return host;
  const port = url.port === '' ? defaultPort(scheme) : Number(url.port);
  if (!(port >= 1 && port <= 65535)) return { ok: false, reason: `port ${url.port} is outside 1–65535` };
  return {
    ok: true,
    target: { scheme, host: host.host, hostKind: host.kind, port, path: url.pathname, search: url.search, method },
  };
}

/** The `host:port` of a CONNECT request (RFC 9110 authority-form: the port is required). */
export function parseConnectTarget(authority: string): ParseTargetResult {
  if (hasControlOrSpace(authority)) return { ok: false, reason: 'CONNECT target contains a control character or space' };
  const m = /^(\[[^\]]*\]|[^:[\]]+):(\d{1,5})$/.exec(authority);
  if (m === null) {
    return { ok: false, reason: 'CONNECT target must be host:port (IPv6 in brackets: [2001:db8::1]:443)' };
  }
  const host = canonicalHost(m[1] ?? '');
  if (!host.ok) return host;
  const port = Number(m[2]);
  if (!(port >= 1 && port <= 65535)) return { ok: false, reason: `port ${m[2]} is outside 1–65535` };
  return { ok: true, target: { scheme: 'connect', host: host.host, hostKind: host.kind, port, path: null, search: '', method: null } };
}

export type EgressRequest =
  | { readonly url: string; readonly method?: string }
  | { readonly connect: string };

export function parseEgressTarget(request: EgressRequest): ParseTargetResult {
  return 'connect' in request ? parseConnectTarget(request.connect) : parseUrlTarget(request.url, request.method ?? 'GET');
}

/** `host[:port]` as it goes into a Host header or an audit record. */
export function formatAuthority(target: Pick<EgressTarget, 'host' | 'hostKind' | 'port' | 'scheme'>, alwaysPort = false): string {
  const host = target.hostKind === 'ipv6' ? `[${target.host}]` : target.host;
  return alwaysPort || target.port !== defaultPort(target.scheme) ? `${host}:${target.port}` : host;
}

function isToken(method: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method);
}
