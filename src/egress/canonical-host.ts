import { canonicalHost, type HostKind } from '../core/canonical-host.ts';
import { hasControlOrSpace } from '../core/text-checks.ts';

/**
 * Turning what a sandbox asked for into one canonical (scheme, host, port, path).
 * Everything downstream — rule matching, resolution, the Host header we send —
 * uses these values and never the raw input, so there is exactly one spelling
 * of each destination to reason about.
 */
export { canonicalHost, type CanonicalHostResult, type HostKind } from '../core/canonical-host.ts';

export type EgressScheme = 'http' | 'https' | 'connect';

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

/** Default port of a scheme (CONNECT tunnels are TLS, so 443). */
export function defaultPort(scheme: EgressScheme): number {
  return scheme === 'http' ? 80 : 443;
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
