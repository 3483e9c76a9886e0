import { embeddedDialledIpv4, formatIp, parseIp, type IpAddress } from './ip-address.ts';
import { hasControlOrSpace } from './text-checks.ts';

/**
 * The one canonical spelling of a host, for every layer that names one: the egress guard matches
 * and dials it, and Cedar sees it in a `net.fetch` or URL resource. Two parsers would let a policy
 * `forbid` on `127.0.0.1` miss `[::ffff:7f00:1]`; so there is this one.
 */

export type HostKind = 'dns' | 'ipv4' | 'ipv6';

export type CanonicalHostResult =
  | { readonly ok: true; readonly host: string; readonly kind: HostKind }
  | { readonly ok: false; readonly reason: string };

/**
 * Canonicalises a bare host (no port, IPv6 without brackets or with them).
 * Used for request hosts and for hosts written in policies, so both sides match.
 */
export function canonicalHost(raw: string): CanonicalHostResult {
  if (raw === '') return { ok: false, reason: 'empty host' };
  // C0 controls, space and DEL: the URL parser silently strips tab/CR/LF and trims leading and
  // trailing controls, so `exa\nmple.com` would become `example.com` after the caller may have
  // logged or checked something else. Refuse them outright.
  if (hasControlOrSpace(raw)) return { ok: false, reason: 'host contains a control character or space' };
  if (raw.includes('%')) return { ok: false, reason: 'host contains "%" (percent-encoding or an IPv6 zone id)' };
  if (/[/?#@\\[\]]/.test(raw.replace(/^\[(.*)\]$/, '$1'))) return { ok: false, reason: 'host contains one of / ? # @ \\ [ ]' };
  const bracketed = raw.startsWith('[') && raw.endsWith(']');
  const inner = bracketed ? raw.slice(1, -1) : raw;
  if (inner.includes(':')) {
    const ip = parseIp(inner);
    if (ip === null || ip.family !== 6) return { ok: false, reason: `"${raw}" is not a valid IPv6 address` };
    return fromIp(ip);
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

function fromIp(ip: IpAddress): CanonicalHostResult {
  // IPv4-mapped (and -compatible) IPv6 is that IPv4: one spelling per destination.
  const dialled = embeddedDialledIpv4(ip) ?? ip;
  return { ok: true, host: formatIp(dialled), kind: dialled.family === 4 ? 'ipv4' : 'ipv6' };
}

