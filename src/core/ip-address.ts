import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses as bytes, so range checks are plain prefix comparisons.
 * node:net validates the text; we only split what it already accepted.
 */
export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
  /** Canonical text, e.g. `10.0.1.0/24`. */
  readonly text: string;
}

/** Parses a strict IPv4 dotted quad or an IPv6 address (no brackets, no zone id). */
export function parseIp(text: string): IpAddress | null {
  // node:net accepts `fe80::1%eth0`; a zone id names an interface of *this* host, never a destination.
  if (text.includes('%')) return null;
  if (isIPv4(text)) return { family: 4, bytes: Uint8Array.from(text.split('.'), Number) };
  if (isIPv6(text)) return { family: 6, bytes: parseIpv6Bytes(text) };
  return null;
}

function parseIpv6Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(16);
  let tailV4: number[] = [];
  let body = text;
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    tailV4 = body.slice(lastColon + 1).split('.').map(Number);
    // Keep the colon structure valid: replace the dotted tail with two placeholder groups.
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const [headText = '', restText] = body.split('::');
  const head = headText === '' ? [] : headText.split(':');
  const rest = restText === undefined || restText === '' ? [] : restText.split(':');
  const groups = [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  if (tailV4.length === 4) bytes.set(tailV4, 12);
  return bytes;
}

export function formatIp(ip: IpAddress): string {
  return ip.family === 4 ? formatIpv4(ip.bytes) : formatIpv6(ip.bytes);
}

export function formatIpv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 form, via the WHATWG serialiser so every IPv6 in Cordon is spelled one way. */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** The canonical spelling of an IP address, or null when the text is not one. */
export function canonicalIp(text: string): string | null {
  const ip = parseIp(text);
  return ip === null ? null : formatIp(ip);
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128). Host bits must be zero. */
export function parseCidr(text: string): Cidr | { error: string } {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (ip === null) return { error: `"${addrText}" is not an IPv4 or IPv6 address` };
  const max = ip.family === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash !== -1) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) return { error: `prefix length "${lenText}" must be 0–${max}` };
    prefixLength = Number(lenText);
  }
  const masked = maskBytes(ip.bytes, prefixLength);
  if (!masked.every((b, i) => b === ip.bytes[i])) {
    return { error: `"${text}" has host bits set; did you mean ${formatIp({ family: ip.family, bytes: masked })}/${prefixLength}?` };
  }
  return { family: ip.family, bytes: masked, prefixLength, text: `${formatIp(ip)}/${prefixLength}` };
}

function maskBytes(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const full = cidr.prefixLength >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const rest = cidr.prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((ip.bytes[full] ?? 0) & mask) === (cidr.bytes[full] ?? 0);
}

/** A CIDR from trusted, literal text (the range tables); throws on a typo so it fails at import. */
export function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if ('error' in parsed) throw new Error(`bad built-in CIDR ${text}: ${parsed.error}`);
  return parsed;
}

const IPV4_MAPPED = cidr('::ffff:0:0/96');
const IPV4_COMPATIBLE = cidr('::/96');

/**
 * The IPv4 an IPv6 address reaches, when it is one in disguise: `::ffff:a.b.c.d` (mapped) goes
 * to a.b.c.d through a dual-stack socket, and `::a.b.c.d` (deprecated "compatible") is treated
 * the same. `::` and `::1` keep their own meaning. Null for every other address.
 */
export function embeddedDialledIpv4(ip: IpAddress): IpAddress | null {
  if (ip.family !== 6) return null;
  const mapped = cidrContains(IPV4_MAPPED, ip);
  if (!mapped && !(cidrContains(IPV4_COMPATIBLE, ip) && !isUnspecifiedOrLoopback(ip))) return null;
  return { family: 4, bytes: ip.bytes.slice(12, 16) };
}

function isUnspecifiedOrLoopback(ip: IpAddress): boolean {
  for (let i = 0; i < 15; i++) if (ip.bytes[i] !== 0) return false;
  return (ip.bytes[15] ?? 0) <= 1;
}
