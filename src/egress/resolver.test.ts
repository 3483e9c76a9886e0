import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystemResolver } from './resolver.ts';

// A tiny DNS server on loopback, so the production resolver is tested without
// any packet leaving this machine.
const ZONE: Record<string, { a?: number[][]; aaaa?: number[][] }> = {
  'dual.test': { a: [[127, 0, 0, 7]], aaaa: [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]] },
  'v4.test': { a: [[127, 0, 0, 8], [127, 0, 0, 9]] },
};
let server: Socket;
let port = 0;
const asked: string[] = [];

function answer(query: Buffer): Buffer {
  let p = 12;
  const labels: string[] = [];
  while ((query[p] ?? 0) !== 0) {
    const len = query[p] ?? 0;
    labels.push(query.subarray(p + 1, p + 1 + len).toString());
    p += len + 1;
  }
  const qtype = query.readUInt16BE(p + 1);
  const question = query.subarray(12, p + 5);
  const name = labels.join('.');
  asked.push(`${name}/${qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : qtype}`);
  const records = (qtype === 1 ? ZONE[name]?.a : qtype === 28 ? ZONE[name]?.aaaa : undefined) ?? [];
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(ZONE[name] === undefined ? 0x8183 : 0x8180, 2); // NXDOMAIN or NOERROR
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const rrs = records.map((addr) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(addr.length, 10);
    return Buffer.concat([rr, Buffer.from(addr)]);
  });
  return Buffer.concat([header, question, ...rrs]);
}

beforeAll(async () => {
  server = createSocket('udp4');
  server.on('message', (msg, from) => server.send(answer(msg), from.port, from.address));
  await new Promise<void>((done) => server.bind(0, '127.0.0.1', () => done()));
  port = server.address().port;
});

afterAll(() => server?.close());

describe('createSystemResolver', () => {
  it('asks A and AAAA and returns both', async () => {
    const resolver = createSystemResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 2000 });
    expect([...(await resolver.resolve('dual.test'))].sort()).toEqual(['127.0.0.7', '::1']);
    expect(asked).toEqual(expect.arrayContaining(['dual.test/A', 'dual.test/AAAA']));
    expect(await resolver.resolve('v4.test')).toEqual(['127.0.0.8', '127.0.0.9']);
  });

  it('rejects a name that does not exist', async () => {
    const resolver = createSystemResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 2000 });
    await expect(resolver.resolve('nope.test')).rejects.toThrow();
  });

  it('stops waiting when the caller aborts', async () => {
    const resolver = createSystemResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 2000 });
    const controller = new AbortController();
    controller.abort();
    await expect(resolver.resolve('dual.test', controller.signal)).rejects.toThrow(/aborted/);
  });
});
