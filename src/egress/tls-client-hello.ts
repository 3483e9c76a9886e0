/**
 * Reads the server name (SNI) from the first bytes of a TLS connection, so a
 * CONNECT tunnel can be held to the host it was allowed for. Only the
 * ClientHello is parsed; nothing is decrypted.
 */
export type ClientHelloResult =
  | { readonly status: 'need-more' }
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'ok'; readonly serverName: string | null };

const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const SNI_EXTENSION = 0;
/** A ClientHello bigger than this is refused (post-quantum key shares fit comfortably). */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

export function parseClientHello(data: Uint8Array): ClientHelloResult {
  // Reassemble the handshake message from as many records as it spans.
  const handshake: Uint8Array[] = [];
  let have = 0;
  let need = -1;
  let at = 0;
  while (need === -1 || have < need) {
    if (data.length < at + 5) return more(data);
    if (data[at] !== HANDSHAKE) return { status: 'invalid', reason: 'the tunnel did not start with a TLS handshake' };
    if (data[at + 1] !== 3) return { status: 'invalid', reason: 'unknown TLS record version' };
    const len = u16(data, at + 3);
    if (len === 0 || len > 16384 + 2048) return { status: 'invalid', reason: 'bad TLS record length' };
    if (data.length < at + 5 + len) return more(data);
    const fragment = data.subarray(at + 5, at + 5 + len);
    handshake.push(fragment);
    have += fragment.length;
    at += 5 + len;
    if (need === -1) {
      const first = concat(handshake);
      if (first.length < 4) continue;
      if (first[0] !== CLIENT_HELLO) return { status: 'invalid', reason: 'the first handshake message is not a ClientHello' };
      need = 4 + ((first[1] ?? 0) << 16) + u16(first, 2);
      if (need > MAX_CLIENT_HELLO_BYTES) return { status: 'invalid', reason: 'ClientHello too large' };
    }
  }
  const msg = concat(handshake).subarray(4, need);
  try {
    return { status: 'ok', serverName: readServerName(msg) };
  } catch (err) {
    return { status: 'invalid', reason: (err as Error).message };
  }
}

function more(data: Uint8Array): ClientHelloResult {
  return data.length > MAX_CLIENT_HELLO_BYTES + 1024 ? { status: 'invalid', reason: 'ClientHello too large' } : { status: 'need-more' };
}

function readServerName(body: Uint8Array): string | null {
  let p = 2 + 32; // legacy_version, random
  p = skip(body, p, 1); // session id
  p = skip(body, p, 2); // cipher suites
  p = skip(body, p, 1); // compression methods
  if (p === body.length) return null; // no extensions at all
  const extEnd = p + 2 + u16checked(body, p);
  if (extEnd !== body.length) throw new Error('malformed ClientHello extensions');
  p += 2;
  let name: string | null = null;
  let seen = false;
  while (p < extEnd) {
    const type = u16checked(body, p);
    const len = u16checked(body, p + 2);
    const start = p + 4;
    if (start + len > extEnd) throw new Error('malformed ClientHello extension');
    if (type === SNI_EXTENSION) {
      // Two SNI extensions could be read differently by us and by the server.
      if (seen) throw new Error('duplicate server_name extension');
      seen = true;
      name = readSniList(body.subarray(start, start + len));
    }
    p = start + len;
  }
  return name;
}

function readSniList(ext: Uint8Array): string {
  const listLen = u16checked(ext, 0);
  if (listLen + 2 !== ext.length) throw new Error('malformed server_name list');
  // RFC 6066 allows one name per type; we accept exactly one host_name entry.
  if (ext[2] !== 0) throw new Error('server_name is not a host name');
  const nameLen = u16checked(ext, 3);
  if (5 + nameLen !== ext.length) throw new Error('server_name list must hold exactly one name');
  const name = Buffer.from(ext.subarray(5, 5 + nameLen)).toString('latin1');
  if (!/^[A-Za-z0-9._-]{1,253}$/.test(name)) throw new Error('server_name is not a valid host name');
  return name;
}

function skip(buf: Uint8Array, p: number, lenBytes: 1 | 2): number {
  if (p + lenBytes > buf.length) throw new Error('truncated ClientHello');
  const len = lenBytes === 1 ? (buf[p] ?? 0) : u16(buf, p);
  if (p + lenBytes + len > buf.length) throw new Error('truncated ClientHello');
  return p + lenBytes + len;
}

function u16(buf: Uint8Array, p: number): number {
  return ((buf[p] ?? 0) << 8) | (buf[p + 1] ?? 0);
}

function u16checked(buf: Uint8Array, p: number): number {
  if (p + 2 > buf.length) throw new Error('truncated ClientHello');
  return u16(buf, p);
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? (parts[0] ?? new Uint8Array()) : Buffer.concat(parts);
}

/** Whether the SNI a client sent is acceptable for a CONNECT to `host` (canonical). */
export function sniMatches(serverName: string | null, host: string, hostKind: 'dns' | 'ipv4' | 'ipv6'): boolean {
  // IP literals carry no SNI (RFC 6066); a name there would be domain fronting.
  if (hostKind !== 'dns') return serverName === null;
  if (serverName === null) return false;
  let sni = serverName.toLowerCase();
  if (sni.endsWith('.')) sni = sni.slice(0, -1);
  return sni === host;
}
