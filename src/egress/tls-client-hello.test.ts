import { describe, expect, it } from 'vitest';
import { parseClientHello, sniMatches } from './tls-client-hello.ts';

/** A minimal TLS 1.2-style ClientHello record carrying the given SNI entries. */
function clientHello(names: string[] | null, split = 0): Buffer {
  const exts: Buffer[] = [];
  if (names !== null) {
    const entries = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([0, n.length >> 8, n.length & 0xff]), Buffer.from(n, 'latin1')])));
    const list = Buffer.concat([u16(entries.length), entries]);
    exts.push(Buffer.concat([u16(0), u16(list.length), list]));
  }
  exts.push(Buffer.concat([u16(0x2b), u16(3), Buffer.from([2, 3, 4])])); // supported_versions
  const extBlock = Buffer.concat(exts);
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0]), u16(2), Buffer.from([0x13, 0x01]), Buffer.from([1, 0]), u16(extBlock.length), extBlock]);
  const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  if (split > 0) {
    const a = hs.subarray(0, split);
    const b = hs.subarray(split);
    return Buffer.concat([record(a), record(b)]);
  }
  return record(hs);
}
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const record = (payload: Buffer): Buffer => Buffer.concat([Buffer.from([22, 3, 1]), u16(payload.length), payload]);

describe('parseClientHello', () => {
  it('reads the SNI, also from a handshake split across records', () => {
    expect(parseClientHello(clientHello(['secure.test']))).toEqual({ status: 'ok', serverName: 'secure.test' });
    expect(parseClientHello(clientHello(['secure.test'], 20))).toEqual({ status: 'ok', serverName: 'secure.test' });
    expect(parseClientHello(clientHello(null))).toEqual({ status: 'ok', serverName: null });
  });

  it('asks for more bytes until the hello is complete', () => {
    const full = clientHello(['secure.test']);
    for (const n of [1, 5, 10, full.length - 1]) expect(parseClientHello(full.subarray(0, n)).status).toBe('need-more');
  });

  it('refuses what it cannot read unambiguously', () => {
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')).status).toBe('invalid');
    expect(parseClientHello(clientHello(['a.test', 'b.test'])).status).toBe('invalid');
    expect(parseClientHello(clientHello(['bad name'])).status).toBe('invalid');
    const hello = clientHello(['a.test']);
    // A ServerHello (type 2) where the ClientHello should be.
    expect(parseClientHello(Buffer.concat([hello.subarray(0, 5), Buffer.from([0x02]), hello.subarray(6)])).status).toBe('invalid');
  });

  it('matches SNI to the CONNECT host; IP literals take no SNI', () => {
    expect(sniMatches('Secure.Test.', 'secure.test', 'dns')).toBe(true);
    expect(sniMatches('other.test', 'secure.test', 'dns')).toBe(false);
    expect(sniMatches(null, 'secure.test', 'dns')).toBe(false);
    expect(sniMatches(null, '127.0.0.1', 'ipv4')).toBe(true);
    expect(sniMatches('evil.test', '127.0.0.1', 'ipv4')).toBe(false);
  });
});
