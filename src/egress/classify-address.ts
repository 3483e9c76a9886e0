import { cidr, cidrContains, embeddedDialledIpv4, formatIpv4, formatIp, parseIp, type Cidr, type IpAddress } from '../core/ip-address.ts';

/**
 * Which destination addresses a sandbox may reach. Our own table, on purpose:
 * libraries disagree on what "unicast" or "private" means (ipaddr.js calls
 * 198.18/15 unicast; smokescreen lets 0/8, 198.18/15 and 240/4 through), and an
 * SSRF guard must not change meaning when a dependency is upgraded.
 */
export type AddressCategory =
  | 'public'
  | 'metadata'
  | 'this-network'
  | 'private'
  | 'shared'
  | 'loopback'
  | 'link-local'
  | 'ietf-protocol'
  | 'documentation'
  | '6to4-relay'
  | 'benchmarking'
  | 'multicast'
  | 'reserved'
  | 'broadcast'
  | 'unspecified'
  | 'unique-local'
  | 'non-global'
  | 'nat64-local'
  | 'nat64'
  | '6to4'
  | 'teredo'
  | 'discard-only'
  | 'orchid'
  | 'segment-routing';

export interface AddressClass {
  /** The address Cordon would dial: IPv4-mapped and IPv4-compatible IPv6 become their IPv4. */
  readonly address: string;
  readonly ip: IpAddress;
  readonly category: AddressCategory;
  /** The table entry that decided, e.g. `10.0.0.0/8`. */
  readonly range: string | null;
  /** Not reachable unless the policy's allow_cidrs names it (and `openable`). */
  readonly forbidden: boolean;
  /** Whether allow_cidrs may open it. Never for metadata, multicast, 0/8, 240/4, `::`. */
  readonly openable: boolean;
  /** A cloud metadata endpoint: never reachable, whatever the policy says. */
  readonly metadata: boolean;
  /** For NAT64 / 6to4 / Teredo: the embedded IPv4 the address was classified by. */
  readonly embeddedIpv4: string | null;
}

interface RangeEntry {
  readonly range: Cidr;
  readonly category: AddressCategory;
  readonly openable: boolean;
}

const entry = (text: string, category: AddressCategory, openable = true): RangeEntry => ({ range: cidr(text), category, openable });

// Order matters only where ranges nest (broadcast inside 240/4). Covers every entry of
// the IANA IPv4 Special-Purpose Address Registry (RFC 6890, checked 2026-11-29) that is
// not globally reachable; 192.0.0.9 and 192.0.0.10 (anycast, reachable) stay in 192.0.0/24.
const IPV4_FORBIDDEN: readonly RangeEntry[] = [
  entry('255.255.255.255/32', 'broadcast', false),
  // 0/8 is "this network": Linux connects 0.0.0.0 to the local host, so no policy may open it.
  entry('0.0.0.0/8', 'this-network', false),
  entry('10.0.0.0/8', 'private'),
  entry('100.64.0.0/10', 'shared'),
  entry('127.0.0.0/8', 'loopback'),
  entry('169.254.0.0/16', 'link-local'),
  entry('172.16.0.0/12', 'private'),
  entry('192.0.0.0/24', 'ietf-protocol'),
  entry('192.0.2.0/24', 'documentation'),
  entry('192.88.99.0/24', '6to4-relay'),
  entry('192.168.0.0/16', 'private'),
  entry('198.18.0.0/15', 'benchmarking'),
  entry('198.51.100.0/24', 'documentation'),
  entry('203.0.113.0/24', 'documentation'),
  entry('224.0.0.0/4', 'multicast', false),
  entry('240.0.0.0/4', 'reserved', false),
];

// The IANA IPv6 Special-Purpose Address Registry (RFC 6890, checked 2026-11-29), every
// entry that is not globally reachable. Those outside 2000::/3 are non-global anyway;
// they are listed so the reason names them.
const IPV6_FORBIDDEN: readonly RangeEntry[] = [
  entry('::/128', 'unspecified', false),
  entry('::1/128', 'loopback'),
  // 64:ff9b:1::/48 is operator-chosen NAT64 (RFC 8215): where the IPv4 sits depends on the
  // operator's prefix length, so there is no one embedded address to classify by.
  entry('64:ff9b:1::/48', 'nat64-local'),
  // RFC 6666 discard-only (a remote-triggered black hole) and RFC 9780's dummy prefix inside it.
  entry('100::/64', 'discard-only'),
  entry('100:0:0:1::/64', 'documentation'),
  // Inside 2000::/3, so they looked public until issue 8: benchmarking (RFC 5180) and
  // the deprecated ORCHID (RFC 4843); both are "globally reachable: false".
  entry('2001:2::/48', 'benchmarking'),
  entry('2001:10::/28', 'orchid'),
  entry('2001:db8::/32', 'documentation'),
  entry('3fff::/20', 'documentation'),
  entry('5f00::/16', 'segment-routing'),
  entry('ff00::/8', 'multicast', false),
  entry('fe80::/10', 'link-local'),
  entry('fc00::/7', 'unique-local'),
];

const GLOBAL_UNICAST = cidr('2000::/3');
// 2001::/23 is IETF protocol assignments: not globally reachable, except the entries
// the registry marks reachable (anycast services, AMT, AS112, ORCHIDv2, drone remote ID).
// A new assignment there is non-global until we list it, which fails closed.
const IETF_PROTOCOL = cidr('2001::/23');
const IETF_PROTOCOL_GLOBAL: readonly Cidr[] = ['2001:1::1/128', '2001:1::2/128', '2001:1::3/128', '2001:3::/32', '2001:4:112::/48', '2001:20::/28', '2001:30::/28'].map(cidr);
const NAT64_WELL_KNOWN = cidr('64:ff9b::/96');
const TEREDO = cidr('2001::/32');
const SIX_TO_FOUR = cidr('2002::/16');

/**
 * Cloud metadata endpoints (AWS IMDS and ECS/EKS credential endpoints, GCP, Azure
 * IMDS and WireServer, Alibaba). Always forbidden, even 168.63.129.16, which is
 * otherwise a public address; allow_cidrs can never open them.
 */
export const METADATA_ADDRESSES: ReadonlySet<string> = new Set([
  '169.254.169.254',
  '169.254.170.2',
  '169.254.170.23',
  '168.63.129.16',
  '100.100.100.200',
  'fd00:ec2::254',
  'fd00:ec2::23',
]);

/** Classifies an address given as text; null when it is not an IP address. */
export function classifyAddress(text: string): AddressClass | null {
  const ip = parseIp(text);
  return ip === null ? null : classifyIp(ip);
}

export function classifyIp(ip: IpAddress): AddressClass {
  if (ip.family === 4) return classifyIpv4(ip);
  // ::ffff:a.b.c.d reaches a.b.c.d through a dual-stack socket, so it *is* that IPv4
  // (and ::a.b.c.d, deprecated "compatible", likewise; :: and ::1 keep their own meaning).
  const dialled = embeddedDialledIpv4(ip);
  if (dialled !== null) return classifyIpv4(dialled);
  const address = formatIp(ip);
  for (const e of IPV6_FORBIDDEN) {
    if (cidrContains(e.range, ip)) return result(ip, address, e.category, e.range.text, e.openable, METADATA_ADDRESSES.has(address), null);
  }
  // Translation prefixes (NAT64, 6to4, Teredo) are forbidden outright, as the issue's table lists
  // them: they reach an IPv4 host through a relay whose reach we cannot see. The reason names the
  // IPv4 they carry; allow_cidrs may open one only when that IPv4 could be opened itself.
  const embedded = embeddedIpv4(ip);
  if (embedded !== null) {
    const inner = classifyIpv4(embedded.ip);
    return {
      address,
      ip,
      category: inner.metadata ? 'metadata' : inner.forbidden ? inner.category : embedded.kind,
      range: inner.forbidden ? `${embedded.range} → ${inner.range ?? inner.address}` : embedded.range,
      forbidden: true,
      openable: inner.forbidden ? inner.openable : true,
      metadata: inner.metadata,
      embeddedIpv4: inner.address,
    };
  }
  if (cidrContains(IETF_PROTOCOL, ip) && !IETF_PROTOCOL_GLOBAL.some((c) => cidrContains(c, ip))) {
    return result(ip, address, 'ietf-protocol', IETF_PROTOCOL.text, true, METADATA_ADDRESSES.has(address), null);
  }
  if (!cidrContains(GLOBAL_UNICAST, ip)) return result(ip, address, 'non-global', '!2000::/3', true, METADATA_ADDRESSES.has(address), null);
  if (METADATA_ADDRESSES.has(address)) return result(ip, address, 'metadata', null, false, true, null);
  return result(ip, address, 'public', null, true, false, null);
}

function classifyIpv4(ip: IpAddress): AddressClass {
  const address = formatIpv4(ip.bytes);
  const metadata = METADATA_ADDRESSES.has(address);
  if (metadata) return result(ip, address, 'metadata', `${address}/32`, false, true, null);
  for (const e of IPV4_FORBIDDEN) {
    if (cidrContains(e.range, ip)) return result(ip, address, e.category, e.range.text, e.openable, false, null);
  }
  return result(ip, address, 'public', null, true, false, null);
}

function result(
  ip: IpAddress,
  address: string,
  category: AddressCategory,
  range: string | null,
  openable: boolean,
  metadata: boolean,
  embedded: string | null,
): AddressClass {
  const forbidden = metadata || category !== 'public';
  return { address, ip, category: metadata ? 'metadata' : category, range, forbidden, openable: openable && !metadata, metadata, embeddedIpv4: embedded };
}

function embeddedIpv4(ip: IpAddress): { ip: IpAddress; range: string; kind: 'nat64' | '6to4' | 'teredo' } | null {
  const v4 = (at: number): IpAddress => ({ family: 4, bytes: ip.bytes.slice(at, at + 4) });
  if (cidrContains(NAT64_WELL_KNOWN, ip)) return { ip: v4(12), range: NAT64_WELL_KNOWN.text, kind: 'nat64' };
  if (cidrContains(SIX_TO_FOUR, ip)) return { ip: v4(2), range: SIX_TO_FOUR.text, kind: '6to4' };
  if (cidrContains(TEREDO, ip)) {
    // Teredo carries two IPv4s: the server (bits 32–63) and the client, bit-inverted
    // (bits 96–127). Either could be made to point inside; classify by the worse one.
    const server = v4(4);
    const client: IpAddress = { family: 4, bytes: ip.bytes.slice(12, 16).map((b) => b ^ 0xff) };
    const serverClass = classifyIpv4(server);
    return serverClass.forbidden ? { ip: server, range: TEREDO.text, kind: 'teredo' } : { ip: client, range: TEREDO.text, kind: 'teredo' };
  }
  return null;
}

/** A one-line explanation for reasons and audit records, e.g. `10.0.0.1 is private (10.0.0.0/8)`. */
export function describeAddress(c: AddressClass): string {
  const via = c.embeddedIpv4 !== null && c.embeddedIpv4 !== c.address ? ` via embedded ${c.embeddedIpv4}` : '';
  if (c.metadata) return `${c.address} is a cloud metadata address${via}`;
  if (!c.forbidden) return `${c.address} is public${via}`;
  if (c.category === 'nat64' || c.category === '6to4' || c.category === 'teredo') return `${c.address} is a ${c.category} translation address${via} (${c.range ?? ''})`;
  return `${c.address} is ${c.category}${via}${c.range === null ? '' : ` (${c.range})`}`;
}
