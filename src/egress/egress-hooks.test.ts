import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allow, deny, type Decision } from '../core/decision.ts';
import { createLoopbackOnlyDialer, type Dialer } from './dialer.ts';
import { createMemoryAuditSink } from './egress-audit.ts';
import type { EgressHookRequest, EgressHookResponse, EgressHooks } from './egress-hooks.ts';
import type { SandboxChannel } from './egress-proxy.ts';
import { createGuardedFetch, type GuardedFetch } from './guarded-fetch.ts';
import { startEgressFixture, startUpstream, testIdentity, type EgressFixture, type LoopbackUpstream } from '../../test/support/loopback-fixture.ts';
import { createPinnedPools, type PinnedPools } from './pinned-pool.ts';
import { testTls } from '../../test/support/test-tls.ts';

// The same hooks on every channel and every hop: the isolate fetch (with its
// redirects) and the proxy's unix and TCP channels (HTTP forward and CONNECT).

let api: LoopbackUpstream; // http, api.test → 127.0.0.11
let other: LoopbackUpstream; // http, other.test → 127.0.0.12: the egress policy allows it, the hooks in these tests refuse it
let secure: LoopbackUpstream; // https, secure.test → 127.0.0.13
let fx: EgressFixture;
let pools: PinnedPools;
let fetchAs: GuardedFetch;
const fetchAudit = createMemoryAuditSink();
const loopback = createLoopbackOnlyDialer();
const dialed: string[] = [];
const dialer: Dialer = { dial: (address, port, signal) => (dialed.push(`${address}:${port}`), loopback.dial(address, port, signal)) };
let nextId = 0;

beforeAll(async () => {
  [api, other, secure] = await Promise.all([startUpstream('127.0.0.11'), startUpstream('127.0.0.12'), startUpstream('127.0.0.13', { tls: true })]);
  const policy = `name: hooked
allow:
  - host: api.test
    ports: [${api.port}]
  - host: other.test
    ports: [${other.port}]
  - host: secure.test
    ports: [${secure.port}]
allow_cidrs: [127.0.0.11/32, 127.0.0.12/32, 127.0.0.13/32]
`;
  fx = await startEgressFixture({ policies: [policy], resolve: { 'api.test': '127.0.0.11', 'other.test': '127.0.0.12', 'secure.test': '127.0.0.13' }, dialer });
  pools = createPinnedPools({ dialer, connectTimeoutMs: 5000, idleTimeoutMs: 10_000, ca: testTls().ca });
  fetchAs = createGuardedFetch({ guard: fx.guard, pools, audit: fetchAudit, maxResponseBytes: 64 * 1024 });
});

afterAll(async () => {
  try {
    await Promise.all([fx?.close(), pools?.close()]);
  } finally {
    await Promise.all([api?.close(), other?.close(), secure?.close()]);
  }
  expect(loopback.refused).toEqual([]);
});

/** Hooks that record what they were asked and shown; `decide` answers authorize (allow by default). */
function recordingHooks(decide: (r: EgressHookRequest) => Decision | Promise<Decision> = () => allow('test allows', 'test-allow')) {
  const asked: Array<Omit<EgressHookRequest, 'target'>> = [];
  const targets: Array<EgressHookRequest['target']> = [];
  const seen: EgressHookResponse[] = [];
  const hooks: EgressHooks = {
    authorize: async (r) => {
      const { target, ...rest } = r;
      asked.push(rest);
      targets.push(target);
      return decide(r);
    },
    observe: (r) => void seen.push(r),
  };
  return { hooks, asked, targets, seen };
}

const denyOther = (r: EgressHookRequest): Decision => (new URL(r.url).hostname === 'other.test' ? deny('no other.test in this session', 'test-chain') : allow('ok', 'test-allow'));

/** A fresh sandbox (own id, so its audit records are its own) with a proxy channel carrying `hooks`. */
async function withChannel(hooks: EgressHooks, fn: (channel: SandboxChannel, sandbox: string) => Promise<void>): Promise<void> {
  const sandbox = `sbx-hook-${++nextId}`;
  const channel = await fx.proxy.openChannel(testIdentity(sandbox, 'hooked'), { hooks });
  try {
    await fn(channel, sandbox);
  } finally {
    await fx.proxy.closeChannel(sandbox);
  }
}

function newSandbox(): ReturnType<typeof testIdentity> {
  return testIdentity(`sbx-hook-${++nextId}`, 'hooked');
}

async function viaUnix(channel: SandboxChannel, url: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const client = new Client('http://localhost', { socketPath: channel.socketPath });
  try {
    const res = await client.request({ path: url, method: 'GET' });
    return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, body: await res.body.text() };
  } finally {
    await client.close();
  }
}

function openTunnel(channel: SandboxChannel, authority: string): Promise<{ status: number; socket: Socket; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: channel.socketPath, method: 'CONNECT', path: authority, headers: { host: authority } });
    req.on('connect', (res, socket) => resolve({ status: res.statusCode ?? 0, socket, headers: res.headers }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, socket: res.socket, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

/** What `other` (the upstream the hooks refuse) has seen so far, to compare after a test: each test looks only at its own effect. */
const otherTouched = (): { requests: number; connections: number; dials: number } => ({ requests: other.seen.length, connections: other.connections, dials: dialed.filter((d) => d.startsWith('127.0.0.12:')).length });

const text = (b: Uint8Array): string => Buffer.from(b).toString();
const header = (h: ReadonlyArray<readonly [string, string]>, name: string): string | undefined => h.find(([k]) => k === name)?.[1];
const withoutChannel = <T extends { channel: string }>(xs: readonly T[]): Array<Omit<T, 'channel'>> => xs.map(({ channel: _c, ...rest }) => rest);

describe('egress hooks on the fetch bridge', () => {
  it('authorizes every hop with the URL and method that hop is sent with, and observes every answer', async () => {
    const { hooks, asked, targets, seen } = recordingHooks();
    const start = `http://api.test:${api.port}/redirect?to=${encodeURIComponent(`http://api.test:${api.port}/final`)}&status=303`;
    const r = await fetchAs(newSandbox(), { url: start, method: 'POST', body: 'x', hooks });
    expect([r.status, text(r.body)]).toEqual([200, 'hello from 127.0.0.11']);
    expect(asked).toEqual([
      { url: start, method: 'POST', hop: 0, channel: 'fetch' },
      { url: `http://api.test:${api.port}/final`, method: 'GET', hop: 1, channel: 'fetch' },
    ]);
    // The parts a policy engine builds its resource from: the guard's own canonical target.
    expect(targets.map((t) => [t.scheme, t.host, t.hostKind, t.port, t.path, t.method])).toEqual([
      ['http', 'api.test', 'dns', api.port, '/redirect', 'POST'],
      ['http', 'api.test', 'dns', api.port, '/final', 'GET'],
    ]);
    expect(seen).toEqual([
      { host: 'api.test', url: start, status: 303, channel: 'fetch' },
      { host: 'api.test', url: `http://api.test:${api.port}/final`, status: 200, channel: 'fetch' },
    ]);
  });

  it('refuses a redirect to a URL the hook denies at that hop: the denied upstream sees nothing', async () => {
    const { hooks, seen } = recordingHooks(denyOther);
    const sandbox = newSandbox();
    const untouched = otherTouched();
    const hopUrl = `http://other.test:${other.port}/collect?d=1`;
    const r = await fetchAs(sandbox, { url: `http://api.test:${api.port}/redirect?to=${encodeURIComponent(hopUrl)}`, hooks });
    expect([r.status, r.redirected, r.url, header(r.headers, 'x-cordon-error')]).toEqual([403, true, hopUrl, 'policy_denied']);
    expect(r.refused).toEqual({ code: 'policy_denied', reason: 'denied by policy: no other.test in this session', rule: 'test-chain' });
    expect(JSON.parse(text(r.body))).toEqual({ error: { code: 'POLICY_DENIED', message: 'denied by policy: no other.test in this session', details: { reason: 'policy_denied', rule: 'test-chain' } } });
    const records = fetchAudit.records.filter((x) => x.sandbox === sandbox.id);
    expect(records.map((x) => [x.redirectHop, x.result, x.code, x.host, x.path])).toEqual([
      [0, 'allow', 'allowed', 'api.test', '/redirect'],
      [1, 'deny', 'policy_denied', 'other.test', '/collect'],
    ]);
    expect(records[1]).toMatchObject({ channel: 'fetch', port: other.port, rule: 'test-chain', status: 403, address: null, bytesToUpstream: 0 });
    // Only the hop that was sent was observed.
    expect(seen.map((s) => [s.host, s.status])).toEqual([['api.test', 302]]);
    expect(otherTouched()).toEqual(untouched);
  });

  it('tells approval apart from denial, with the policy engine’s details', async () => {
    const ask: Decision = { result: 'require_approval', reason: 'a human must approve this', ruleId: 'ask-first', details: { policies: ['p-ask'] } };
    const { hooks } = recordingHooks(() => ask);
    const r = await fetchAs(newSandbox(), { url: `http://api.test:${api.port}/`, hooks });
    expect([r.status, header(r.headers, 'x-cordon-error'), r.refused?.code]).toEqual([403, 'approval_required', 'approval_required']);
    expect(JSON.parse(text(r.body)).error).toEqual({ code: 'APPROVAL_REQUIRED', message: 'needs approval: a human must approve this', details: { reason: 'approval_required', rule: 'ask-first', decision: { policies: ['p-ask'] } } });
  });

  it('fails closed when authorize throws, rejects, hangs past the signal or answers nonsense', async () => {
    const before = api.seen.length;
    const broken: Array<[string, EgressHooks['authorize'], AbortSignal | undefined]> = [
      [
        'throws',
        () => {
          throw new Error('cedar exploded at /etc/cordon/secret-path');
        },
        undefined,
      ],
      ['rejects', () => Promise.reject(new Error('cedar exploded at /etc/cordon/secret-path')), undefined],
      ['hangs', () => new Promise<Decision>(() => undefined), AbortSignal.timeout(50)],
      ['nonsense', () => Promise.resolve(undefined as unknown as Decision), undefined],
      ['unknown result', () => Promise.resolve({ result: 'maybe', reason: 'x', ruleId: null } as unknown as Decision), undefined],
    ];
    for (const [what, authorize, signal] of broken) {
      const sandbox = newSandbox();
      const r = await fetchAs(sandbox, { url: `http://api.test:${api.port}/`, hooks: { authorize, observe: () => undefined }, signal });
      expect([r.status, r.refused?.code], what).toEqual([403, 'policy_denied']);
      // The sandbox is not told what broke; the audit record is.
      expect(text(r.body), what).not.toContain('secret-path');
      expect(fetchAudit.records.filter((x) => x.sandbox === sandbox.id), what).toMatchObject([{ result: 'deny', code: 'policy_denied' }]);
    }
    expect(fetchAudit.records.some((x) => x.reason === 'authorize hook failed: cedar exploded at /etc/cordon/secret-path')).toBe(true);
    expect(api.seen.length).toBe(before);
  });

  it('ignores an observer that throws or rejects: the response still stands', async () => {
    const hooks: EgressHooks = {
      authorize: () => Promise.resolve(allow('ok', null)),
      observe: () => {
        throw new Error('facts store down');
      },
    };
    const r = await fetchAs(newSandbox(), { url: `http://api.test:${api.port}/`, hooks });
    expect([r.status, text(r.body)]).toEqual([200, 'hello from 127.0.0.11']);
    const rejecting = { ...hooks, observe: (() => Promise.reject(new Error('async facts store down'))) as unknown as EgressHooks['observe'] };
    expect((await fetchAs(newSandbox(), { url: `http://api.test:${api.port}/`, hooks: rejecting })).status).toBe(200);
  });
});

describe('egress hooks on the proxy channels', () => {
  it('observes a proxied request exactly as the fetch bridge does, and authorizes it the same way', async () => {
    const url = `http://api.test:${api.port}/hello?q=1`;
    const viaFetch = recordingHooks();
    const viaProxy = recordingHooks();
    expect((await fetchAs(newSandbox(), { url, hooks: viaFetch.hooks })).status).toBe(200);
    await withChannel(viaProxy.hooks, async (channel) => {
      expect((await viaUnix(channel, url)).status).toBe(200);
    });
    expect(viaProxy.seen).toEqual([{ host: 'api.test', url, status: 200, channel: 'proxy' }]);
    expect(withoutChannel(viaProxy.seen)).toEqual(withoutChannel(viaFetch.seen));
    expect(withoutChannel(viaProxy.asked)).toEqual(withoutChannel(viaFetch.asked));
  });

  it('refuses a request the hook denies with 403, audits it, and leaves the upstream untouched', async () => {
    const { hooks, seen } = recordingHooks(denyOther);
    const untouched = otherTouched();
    await withChannel(hooks, async (channel, sandbox) => {
      const r = await viaUnix(channel, `http://other.test:${other.port}/collect`);
      expect([r.status, r.headers['x-cordon-error']]).toEqual([403, 'policy_denied']);
      expect(JSON.parse(r.body).error).toEqual({ code: 'POLICY_DENIED', message: 'denied by policy: no other.test in this session', details: { reason: 'policy_denied', rule: 'test-chain' } });
      expect(fx.records.filter((x) => x.sandbox === sandbox)).toMatchObject([{ channel: 'unix', kind: 'http', result: 'deny', code: 'policy_denied', host: 'other.test', path: '/collect', rule: 'test-chain', status: 403, address: null }]);
    });
    expect(seen).toEqual([]);
    expect(otherTouched()).toEqual(untouched);
  });

  it('fails closed when authorize throws', async () => {
    const hooks: EgressHooks = { authorize: () => Promise.reject(new Error('cedar down')), observe: () => undefined };
    const before = api.seen.length;
    await withChannel(hooks, async (channel, sandbox) => {
      const r = await viaUnix(channel, `http://api.test:${api.port}/`);
      expect([r.status, r.headers['x-cordon-error']]).toEqual([403, 'policy_denied']);
      expect(fx.records.filter((x) => x.sandbox === sandbox)).toMatchObject([{ result: 'deny', code: 'policy_denied', reason: 'authorize hook failed: cedar down' }]);
    });
    expect(api.seen.length).toBe(before);
  });

  it('applies the channel’s hooks on the TCP channel too', async () => {
    const { hooks, asked } = recordingHooks(denyOther);
    const untouched = otherTouched();
    await withChannel(hooks, async (channel) => {
      const port = fx.proxy.tcpPort ?? 0;
      const auth = `Basic ${Buffer.from(`${channel.username}:${channel.password}`).toString('base64')}`;
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path: `http://other.test:${other.port}/`, headers: { 'proxy-authorization': auth } });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(403);
    });
    expect(asked).toEqual([{ url: `http://other.test:${other.port}/`, method: 'GET', hop: 0, channel: 'proxy' }]);
    expect(otherTouched()).toEqual(untouched);
  });

  it('authorizes CONNECT as https://host:port/ and observes the tunnel once it is established', async () => {
    const { hooks, asked, seen } = recordingHooks();
    await withChannel(hooks, async (channel) => {
      const { status, socket } = await openTunnel(channel, `secure.test:${secure.port}`);
      expect(status).toBe(200);
      const reply = await new Promise<string>((resolve, reject) => {
        const tls = tlsConnect({ socket, servername: 'secure.test', ca: testTls().ca });
        let got = '';
        tls.on('secureConnect', () => tls.write('GET / HTTP/1.1\r\nhost: secure.test\r\nconnection: close\r\n\r\n'));
        tls.on('data', (d: Buffer) => (got += d.toString()));
        tls.on('close', () => resolve(got));
        tls.on('error', reject);
      });
      expect(reply).toContain('hello from 127.0.0.13');
    });
    expect(asked).toEqual([{ url: `https://secure.test:${secure.port}/`, method: 'CONNECT', hop: 0, channel: 'proxy' }]);
    expect(seen).toEqual([{ host: 'secure.test', url: `https://secure.test:${secure.port}/`, status: 200, channel: 'proxy' }]);
  });

  it('refuses a CONNECT the hook denies before dialling, and audits it', async () => {
    const { hooks, seen } = recordingHooks((r) => (r.method === 'CONNECT' ? deny('no tunnels', 'test-no-tunnels') : allow('ok', null)));
    const tlsBefore = secure.connections;
    const dialsBefore = dialed.length;
    await withChannel(hooks, async (channel, sandbox) => {
      const { status, headers } = await openTunnel(channel, `secure.test:${secure.port}`);
      expect([status, headers['x-cordon-error']]).toEqual([403, 'policy_denied']);
      await vi.waitFor(() => expect(fx.records.filter((x) => x.sandbox === sandbox)).toMatchObject([{ kind: 'connect', result: 'deny', code: 'policy_denied', host: 'secure.test', port: secure.port, rule: 'test-no-tunnels', status: 403 }]));
    });
    expect(seen).toEqual([]);
    expect(secure.connections).toBe(tlsBefore);
    expect(dialed.slice(dialsBefore)).toEqual([]);
  });
});
