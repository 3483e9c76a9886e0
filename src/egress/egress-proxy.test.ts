import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Dialer } from './dialer.ts';
import { startEgressFixture, startUpstream, testIdentity, type EgressFixture, type LoopbackUpstream } from '../../test/support/loopback-fixture.ts';
import type { SandboxChannel } from './egress-proxy.ts';
import type { Resolver } from './resolver.ts';
import { testTls } from '../../test/support/test-tls.ts';

const run = promisify(execFile);
const CA = testTls().ca;
const SECRET = 's3cret-token-value-0123456789';

let api: LoopbackUpstream; // http, api.test → 127.0.0.2
let secure: LoopbackUpstream; // https, secure.test / echo.test / other.test → 127.0.0.3
let internal: LoopbackUpstream; // http, 127.0.0.99: must never be reached
let fx: EgressFixture;
let a: SandboxChannel;
let b: SandboxChannel;
let rebindCalls = 0;

const resolver: Resolver = {
  resolve(host) {
    const table: Record<string, string[]> = {
      'api.test': ['127.0.0.2'],
      'secure.test': ['127.0.0.3'],
      'echo.test': ['127.0.0.3'],
      'other.test': ['127.0.0.3'],
      'inside.test': ['127.0.0.99'],
    };
    // A name whose owner changes the answer after the first lookup.
    if (host === 'rebind.test') return Promise.resolve(++rebindCalls === 1 ? ['127.0.0.2'] : ['127.0.0.99']);
    const hit = table[host];
    return hit === undefined ? Promise.reject(new Error('NXDOMAIN')) : Promise.resolve(hit);
  },
};

function policies(): string[] {
  return [
    `name: web
allow:
  - host: api.test
    ports: [${api.port}]
  - host: rebind.test
    ports: [${api.port}]
  - host: inside.test
    ports: [${internal.port}]
  - host: missing.test
    ports: [${api.port}]
  - host: secure.test
    ports: [${secure.port}]
  - host: echo.test
    ports: [${secure.port}]
    schemes: [https]
    inject:
      header: Authorization
      value: "Bearer \${secret:API_TOKEN}"
allow_cidrs: [127.0.0.2/32, 127.0.0.3/32]
`,
    `name: narrow
allow:
  - host: other.test
    ports: [${secure.port}]
allow_cidrs: [127.0.0.3/32]
`,
  ];
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>;
  body: string;
}

async function viaUnix(channel: SandboxChannel, url: string, headers: Record<string, string> = {}, method = 'GET', body?: string | Readable): Promise<Reply> {
  const client = new Client('http://localhost', { socketPath: channel.socketPath });
  try {
    const res = await client.request({ path: url, method, headers, body });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  } finally {
    await client.close();
  }
}

/** Opens a CONNECT tunnel on a unix channel or the TCP channel; resolves with the proxy's status and the socket. */
function openTunnel(where: { socketPath: string } | { port: number; auth?: string }, authority: string): Promise<{ status: number; socket: Socket; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: authority };
    if ('port' in where && where.auth !== undefined) headers['proxy-authorization'] = `Basic ${Buffer.from(where.auth).toString('base64')}`;
    const req = httpRequest({ ...('socketPath' in where ? { socketPath: where.socketPath } : { host: '127.0.0.1', port: where.port }), method: 'CONNECT', path: authority, headers });
    req.on('connect', (res, socket) => resolve({ status: res.statusCode ?? 0, socket, headers: res.headers }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, socket: res.socket, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A GET over TLS inside an open tunnel; resolves with the raw response text, or rejects if the tunnel is cut. */
function getOverTls(socket: Socket, servername: string, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca: CA });
    let text = '';
    tls.on('secureConnect', () => tls.write(`GET ${path} HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`));
    tls.on('data', (d: Buffer) => (text += d.toString()));
    const settle = (): void => (text === '' ? reject(new Error('tunnel closed')) : resolve(text));
    tls.on('end', settle);
    tls.on('error', reject);
    tls.on('close', settle);
  });
}

// A tunnel's audit record is written when both of its sockets have closed, which
// can be a while after the client sees the end on a loaded machine: wait for it
// by condition, failing with a message, rather than for a fixed time.
const waitFor = (what: string, check: () => boolean): Promise<void> =>
  vi.waitFor(
    () => {
      if (!check()) throw new Error(`still waiting for ${what}`);
    },
    { timeout: 15_000, interval: 10 },
  );

beforeAll(async () => {
  [api, secure, internal] = await Promise.all([startUpstream('127.0.0.2'), startUpstream('127.0.0.3', { tls: true }), startUpstream('127.0.0.99')]);
  fx = await startEgressFixture({ policies: policies(), resolve: resolver, secrets: { API_TOKEN: SECRET } });
  a = await fx.proxy.openChannel(testIdentity('sbx-a', 'web'));
  b = await fx.proxy.openChannel(testIdentity('sbx-b', 'narrow'));
});

afterAll(async () => {
  try {
    await fx?.close();
  } finally {
    await Promise.all([api?.close(), secure?.close(), internal?.close()]);
  }
  // Nothing in this file ever tried to leave loopback.
  expect(fx?.dialer.refused ?? []).toEqual([]);
});

describe('egress proxy: plain HTTP on a unix channel', () => {
  it('forwards an allowed request to the pinned address and audits it', async () => {
    const before = fx.records.length;
    const r = await viaUnix(a, `http://api.test:${api.port}/hello?q=1`);
    expect([r.status, r.body]).toEqual([200, 'hello from 127.0.0.2']);
    const rec = fx.records.slice(before).find((x) => x.host === 'api.test');
    expect(rec).toMatchObject({
      sandbox: 'sbx-a',
      agent: 'agent-sbx-a',
      user: 'user-sbx-a',
      channel: 'unix',
      kind: 'http',
      host: 'api.test',
      port: api.port,
      address: '127.0.0.2',
      method: 'GET',
      path: '/hello',
      result: 'allow',
      rule: 'web.allow[0]',
      status: 200,
      bytesFromUpstream: 'hello from 127.0.0.2'.length,
    });
  });

  it('routes on the checked URL, not on a Host header the sandbox sends', async () => {
    const r = await viaUnix(a, `http://api.test:${api.port}/echo`, { host: 'inside.test' });
    expect(JSON.parse(r.body).headers.host).toBe(`api.test:${api.port}`);
  });

  it('forwards request bodies and counts them', async () => {
    const payload = 'x'.repeat(200_000);
    const r = await viaUnix(a, `http://api.test:${api.port}/echo`, { 'content-type': 'text/plain' }, 'POST', payload);
    expect(JSON.parse(r.body)).toMatchObject({ method: 'POST', bodyLength: payload.length });
    expect(fx.records.at(-1)).toMatchObject({ method: 'POST', bytesToUpstream: payload.length });
    const chunked = await viaUnix(a, `http://api.test:${api.port}/echo`, {}, 'PUT', Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
    expect(JSON.parse(chunked.body)).toMatchObject({ method: 'PUT', bodyLength: 4 });
  });

  it('an upstream cannot pose as Cordon: its X-Cordon-Error header is dropped on the way to the sandbox', async () => {
    const r = await viaUnix(a, `http://api.test:${api.port}/forged-refusal`);
    expect([r.status, r.body, r.headers['x-cordon-error']]).toEqual([403, 'forged', undefined]);
  });

  it('refuses a host the policy does not name with 403 and X-Cordon-Error', async () => {
    const r = await viaUnix(a, `http://other.test:${secure.port}/`);
    expect(r.status).toBe(403);
    expect(r.headers['x-cordon-error']).toBe('no_matching_rule');
    expect(JSON.parse(r.body).error).toMatchObject({ code: 'EGRESS_DENIED', details: { reason: 'no_matching_rule' } });
    expect(fx.records.at(-1)).toMatchObject({ sandbox: 'sbx-a', result: 'deny', code: 'no_matching_rule', status: 403 });
  });

  it('refuses an allowed name whose address is forbidden, without saying the address', async () => {
    const r = await viaUnix(a, `http://inside.test:${internal.port}/`);
    expect([r.status, r.headers['x-cordon-error']]).toEqual([403, 'forbidden_address']);
    expect(r.body).not.toContain('127.0.0.99');
    expect(internal.connections).toBe(0);
  });

  it('answers 502 when a name does not resolve', async () => {
    const r = await viaUnix(a, `http://missing.test:${api.port}/`);
    expect([r.status, r.headers['x-cordon-error']]).toEqual([502, 'resolution_failed']);
  });

  it('refuses origin-form requests: the proxy is not a web server', async () => {
    const r = await viaUnix(a, '/');
    expect([r.status, r.headers['x-cordon-error']]).toEqual([400, 'invalid_request']);
  });

  it('checks every request on a kept-alive connection', async () => {
    const client = new Client('http://localhost', { socketPath: a.socketPath, pipelining: 1 });
    try {
      const first = await client.request({ path: `http://api.test:${api.port}/`, method: 'GET' });
      await first.body.text();
      const second = await client.request({ path: `http://inside.test:${internal.port}/`, method: 'GET' });
      await second.body.text();
      const third = await client.request({ path: `http://api.test:${api.port}/`, method: 'GET' });
      await third.body.text();
      expect([first.statusCode, second.statusCode, third.statusCode]).toEqual([200, 403, 200]);
    } finally {
      await client.close();
    }
    expect(internal.connections).toBe(0);
  });

  it('dials the address it checked, never a second lookup (DNS rebinding)', async () => {
    rebindCalls = 0;
    const first = await viaUnix(a, `http://rebind.test:${api.port}/`);
    expect([first.status, first.body]).toEqual([200, 'hello from 127.0.0.2']);
    expect(rebindCalls).toBe(1);
    // The next decision looks again, sees the new answer, and refuses it.
    const second = await viaUnix(a, `http://rebind.test:${api.port}/`);
    expect([second.status, second.headers['x-cordon-error']]).toEqual([403, 'forbidden_address']);
    expect(rebindCalls).toBe(2);
    expect(internal.connections).toBe(0);
  });
});

describe('egress proxy: CONNECT', () => {
  it('tunnels TLS to an allowed host whose SNI matches', async () => {
    const { status, socket } = await openTunnel({ socketPath: a.socketPath }, `secure.test:${secure.port}`);
    expect(status).toBe(200);
    const text = await getOverTls(socket, 'secure.test');
    expect(text).toContain('hello from 127.0.0.3');
    await waitFor('the tunnel audit record', () => fx.records.some((r) => r.kind === 'connect' && r.host === 'secure.test' && r.bytesFromUpstream > 0));
    const rec = fx.records.findLast((r) => r.kind === 'connect' && r.host === 'secure.test');
    expect(rec).toMatchObject({ sandbox: 'sbx-a', result: 'allow', address: '127.0.0.3', method: null, path: null, status: 200 });
    expect(rec?.bytesToUpstream).toBeGreaterThan(0);
  });

  it('cuts the tunnel when the SNI names another host', async () => {
    const tlsBefore = secure.connections;
    const { status, socket } = await openTunnel({ socketPath: a.socketPath }, `secure.test:${secure.port}`);
    expect(status).toBe(200);
    await expect(getOverTls(socket, 'other.test')).rejects.toThrow();
    await waitFor('the sni_mismatch audit record', () => fx.records.at(-1)?.code === 'sni_mismatch');
    expect(fx.records.at(-1)).toMatchObject({ sandbox: 'sbx-a', kind: 'connect', result: 'deny', code: 'sni_mismatch', host: 'secure.test' });
    // The ClientHello was never forwarded: no TLS session reached the upstream.
    expect(secure.connections).toBe(tlsBefore);
  });

  it('cuts a tunnel that does not start with TLS', async () => {
    const { status, socket } = await openTunnel({ socketPath: a.socketPath }, `secure.test:${secure.port}`);
    expect(status).toBe(200);
    socket.write('GET / HTTP/1.1\r\nhost: secure.test\r\n\r\n');
    await new Promise((r) => socket.once('close', r));
    expect(fx.records.at(-1)).toMatchObject({ code: 'sni_mismatch', result: 'deny' });
  });

  it('refuses CONNECT to a host outside the policy before dialling', async () => {
    const { status, headers } = await openTunnel({ socketPath: a.socketPath }, `other.test:${secure.port}`);
    expect([status, headers['x-cordon-error']]).toEqual([403, 'no_matching_rule']);
  });

  it('refuses CONNECT to an IP literal without an exact entry', async () => {
    const { status, headers } = await openTunnel({ socketPath: a.socketPath }, `127.0.0.3:${secure.port}`);
    expect([status, headers['x-cordon-error']]).toEqual([403, 'ip_literal_not_listed']);
  });
});

describe('egress proxy: channels are the identity', () => {
  it("decides a request on A's socket by A's policy whatever headers claim B", async () => {
    const claimB = { 'proxy-authorization': `Basic ${Buffer.from(`${b.username}:${b.password}`).toString('base64')}`, 'x-cordon-sandbox': 'sbx-b' };
    // other.test is allowed for B only.
    const onA = await viaUnix(a, `https://other.test:${secure.port}/`, claimB);
    expect(onA.status).toBe(403);
    expect(fx.records.at(-1)).toMatchObject({ sandbox: 'sbx-a', policy: 'web' });
    // And api.test is allowed for A only.
    const onB = await viaUnix(b, `http://api.test:${api.port}/`, { 'x-cordon-sandbox': 'sbx-a' });
    expect(onB.status).toBe(403);
    expect(fx.records.at(-1)).toMatchObject({ sandbox: 'sbx-b', policy: 'narrow' });
  });

  it('uses the TCP channel only with that sandbox’s own credential (curl)', async () => {
    const port = fx.proxy.tcpPort ?? 0;
    const curl = async (auth: string | null, url: string, extra: string[] = []): Promise<{ code: string; body: string }> => {
      const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '--max-time', '10', '--noproxy', '', '-x', `http://127.0.0.1:${port}`, ...extra, url];
      if (auth !== null) args.unshift('--proxy-user', auth);
      const { stdout } = await run('curl', args).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
      const i = stdout.lastIndexOf('\n');
      return { body: stdout.slice(0, i), code: stdout.slice(i + 1) };
    };
    const ok = await curl(`${a.username}:${a.password}`, `http://api.test:${api.port}/`);
    expect([ok.code, ok.body]).toEqual(['200', 'hello from 127.0.0.2']);
    expect(fx.records.at(-1)).toMatchObject({ sandbox: 'sbx-a', channel: 'tcp', result: 'allow' });
    expect((await curl(null, `http://api.test:${api.port}/`)).code).toBe('407');
    expect((await curl(`${a.username}:wrong`, `http://api.test:${api.port}/`)).code).toBe('407');
    // B's name with A's password proves nothing.
    expect((await curl(`${b.username}:${a.password}`, `http://api.test:${api.port}/`)).code).toBe('407');
    // B's credential gets B's policy.
    expect((await curl(`${b.username}:${b.password}`, `http://api.test:${api.port}/`)).code).toBe('403');
    // HTTPS through CONNECT on the TCP channel, certificate checked by curl.
    const caDir = await mkdtemp(join(tmpdir(), 'ce-ca-'));
    try {
      await writeFile(join(caDir, 'ca.pem'), CA);
      const tunnelled = await curl(`${a.username}:${a.password}`, `https://secure.test:${secure.port}/`, ['--cacert', join(caDir, 'ca.pem')]);
      expect([tunnelled.code, tunnelled.body]).toEqual(['200', 'hello from 127.0.0.3']);
    } finally {
      await rm(caDir, { recursive: true, force: true });
    }
  });

  it('refuses CONNECT on the TCP channel without a credential', async () => {
    const { status, headers } = await openTunnel({ port: fx.proxy.tcpPort ?? 0 }, `secure.test:${secure.port}`);
    expect(status).toBe(407);
    expect(headers['proxy-authenticate']).toContain('Basic');
  });

  it('has no channel for an unknown or closed sandbox', async () => {
    const gone = await fx.proxy.openChannel(testIdentity('sbx-gone', 'web'));
    expect((await viaUnix(gone, `http://api.test:${api.port}/`)).status).toBe(200);
    await fx.proxy.closeChannel('sbx-gone');
    await expect(viaUnix(gone, `http://api.test:${api.port}/`)).rejects.toThrow();
    const { status } = await openTunnel({ port: fx.proxy.tcpPort ?? 0, auth: `${gone.username}:${gone.password}` }, `secure.test:${secure.port}`);
    expect(status).toBe(407);
    await expect(viaUnix({ ...gone, socketPath: join(fx.socketDir, 'nobody.sock') }, `http://api.test:${api.port}/`)).rejects.toThrow();
  });

  it('refuses a sandbox id that could escape the socket directory', async () => {
    await expect(fx.proxy.openChannel(testIdentity('../evil', 'web'))).rejects.toMatchObject({ code: 'INPUT_INVALID' });
  });

  it('gives a sandbox without a policy no egress, and an expired one none either', async () => {
    const none = await fx.proxy.openChannel(testIdentity('sbx-none', null));
    const expired = await fx.proxy.openChannel(testIdentity('sbx-old', 'web', { expiresAt: 1 }));
    try {
      const r1 = await viaUnix(none, `http://api.test:${api.port}/`);
      expect([r1.status, r1.headers['x-cordon-error']]).toEqual([403, 'no_egress_policy']);
      const r2 = await viaUnix(expired, `http://api.test:${api.port}/`);
      expect([r2.status, r2.headers['x-cordon-error']]).toEqual([403, 'sandbox_expired']);
    } finally {
      await fx.proxy.closeChannel('sbx-none');
      await fx.proxy.closeChannel('sbx-old');
    }
  });
});

describe('egress proxy: secret injection', () => {
  it('adds the secret upstream, never shows it to the sandbox, never audits it', async () => {
    const before = secure.seen.length;
    const r = await viaUnix(a, `https://echo.test:${secure.port}/echo`, { authorization: 'Bearer sandbox-made-this-up' });
    expect(r.status).toBe(200);
    // The upstream got the injected value, replacing the sandbox's own header.
    const seen = secure.seen.slice(before).find((s) => s.url === '/echo');
    expect(seen?.headers['authorization']).toBe(`Bearer ${SECRET}`);
    // The echo of it came back redacted, in the body and in a header.
    expect(r.body).not.toContain(SECRET);
    expect(r.body).toContain('[redacted]');
    expect(String(r.headers['x-echo-authorization'])).not.toContain(SECRET);
    const rec = fx.records.at(-1);
    expect(rec).toMatchObject({ host: 'echo.test', injected: ['authorization'], result: 'allow' });
    expect(JSON.stringify(fx.records)).not.toContain(SECRET);
    expect(fx.guard.redactor.redact(`x ${SECRET} y`)).toBe('x [redacted] y');
  });

  it('does not inject for a host the rule does not name', async () => {
    const before = secure.seen.length;
    const r = await viaUnix(a, `https://secure.test:${secure.port}/echo`);
    expect(r.status).toBe(200);
    expect(secure.seen.slice(before)[0]?.headers['authorization']).toBeUndefined();
  });
});

describe('egress proxy: limits and timeouts', () => {
  it('answers 429 past the request rate', async () => {
    const frozen = Date.now();
    const f = await startEgressFixture({ policies: policies(), resolve: resolver, limits: { maxRequestsPerSecond: 1, requestBurst: 2 }, now: () => frozen, tcp: null });
    try {
      const ch = await f.proxy.openChannel(testIdentity('sbx-rate', 'web'));
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await viaUnix(ch, `http://api.test:${api.port}/`)).status);
      expect(codes).toEqual([200, 200, 429]);
      expect(f.records.at(-1)).toMatchObject({ code: 'rate_limited', status: 429, sandbox: 'sbx-rate' });
    } finally {
      await f.close();
    }
  });

  it('answers 429 past the concurrent connection limit', async () => {
    const f = await startEgressFixture({ policies: policies(), resolve: resolver, limits: { maxConcurrentConnections: 1 }, tcp: null });
    try {
      const ch = await f.proxy.openChannel(testIdentity('sbx-conn', 'web'));
      const held = await openTunnel({ socketPath: ch.socketPath }, `secure.test:${secure.port}`);
      expect(held.status).toBe(200);
      const r = await viaUnix(ch, `http://api.test:${api.port}/`);
      expect([r.status, r.headers['x-cordon-error']]).toEqual([429, 'connection_limit']);
      held.socket.destroy();
    } finally {
      await f.close();
    }
  });

  it('cuts a transfer at the byte budget and then answers 429', async () => {
    const f = await startEgressFixture({ policies: policies(), resolve: resolver, limits: { maxTotalBytes: 64 * 1024 }, tcp: null });
    try {
      const ch = await f.proxy.openChannel(testIdentity('sbx-bytes', 'web'));
      await expect(viaUnix(ch, `http://api.test:${api.port}/bytes?n=${4 * 1024 * 1024}`)).rejects.toThrow();
      const r = await viaUnix(ch, `http://api.test:${api.port}/`);
      expect([r.status, r.headers['x-cordon-error']]).toEqual([429, 'byte_limit']);
    } finally {
      await f.close();
    }
  });

  it('answers 504 when connecting to the pinned address times out', async () => {
    const hanging: Dialer = { dial: () => new Promise(() => undefined) };
    const f = await startEgressFixture({ policies: policies(), resolve: resolver, dialer: hanging, timeouts: { connectTimeoutMs: 50 }, tcp: null });
    try {
      const ch = await f.proxy.openChannel(testIdentity('sbx-slow', 'web'));
      const r = await viaUnix(ch, `http://api.test:${api.port}/`);
      expect([r.status, r.headers['x-cordon-error']]).toEqual([504, 'connect_timeout']);
      const t = await openTunnel({ socketPath: ch.socketPath }, `secure.test:${secure.port}`);
      expect([t.status, t.headers['x-cordon-error']]).toEqual([504, 'connect_timeout']);
    } finally {
      await f.close();
    }
  });
});
