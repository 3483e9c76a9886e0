import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoopbackOnlyDialer } from './dialer.ts';
import { createMemoryAuditSink } from './egress-audit.ts';
import { createEgressGuard } from './egress-guard.ts';
import { createGuardedFetch, type GuardedFetch } from './guarded-fetch.ts';
import { startUpstream, testIdentity, type LoopbackUpstream } from '../../test/support/loopback-fixture.ts';
import { parseEgressPolicy } from './parse-egress-policy.ts';
import { createPinnedPools, type PinnedPools } from './pinned-pool.ts';
import { createStaticSecretStore } from './secret-template.ts';
import { createStaticResolver } from './static-resolver.ts';
import { testTls } from '../../test/support/test-tls.ts';

const SECRET = 'fetch-secret-7c1f2a9b';
let api: LoopbackUpstream;
let secure: LoopbackUpstream;
let internal: LoopbackUpstream;
let pools: PinnedPools;
let fetchAs: GuardedFetch;
const sink = createMemoryAuditSink();
const dialer = createLoopbackOnlyDialer();
const sbx = testIdentity('sbx-f', 'fetch');
const text = (b: Uint8Array): string => Buffer.from(b).toString();
const header = (h: ReadonlyArray<readonly [string, string]>, name: string): string | undefined => h.find(([k]) => k === name)?.[1];

beforeAll(async () => {
  [api, secure, internal] = await Promise.all([startUpstream('127.0.0.5'), startUpstream('127.0.0.6', { tls: true }), startUpstream('127.0.0.98')]);
  const policy = parseEgressPolicy(
    `name: fetch
allow:
  - host: api.test
    ports: [${api.port}]
  - host: inside.test
    ports: [${internal.port}]
  - host: echo.test
    ports: [${secure.port}]
    schemes: [https]
    methods: [GET, POST]
    inject:
      header: X-Api-Key
      value: "\${secret:KEY}"
allow_cidrs: [127.0.0.5/32, 127.0.0.6/32]
`,
    'fetch.yaml',
  );
  const resolver = createStaticResolver({ 'api.test': '127.0.0.5', 'echo.test': '127.0.0.6', 'inside.test': '127.0.0.98' });
  const guard = createEgressGuard({ policies: new Map([[policy.name, policy]]), resolver, secrets: createStaticSecretStore({ KEY: SECRET }) });
  pools = createPinnedPools({ dialer, connectTimeoutMs: 5000, idleTimeoutMs: 10_000, ca: testTls().ca });
  fetchAs = createGuardedFetch({ guard, pools, audit: sink, maxRedirects: 3, maxResponseBytes: 64 * 1024 });
});

afterAll(async () => {
  await pools?.close();
  await Promise.all([api?.close(), secure?.close(), internal?.close()]);
  expect(dialer.refused).toEqual([]);
});

describe('guarded fetch (isolate fetch bridge, host side)', () => {
  it('an upstream cannot pose as Cordon: its x-cordon-error header is dropped, and the answer is not a refusal', async () => {
    const r = await fetchAs(sbx, { url: `http://api.test:${api.port}/forged-refusal` });
    expect([r.status, text(r.body), r.refused, header(r.headers, 'x-cordon-error')]).toEqual([403, 'forged', null, undefined]);
  });

  it('fetches an allowed host and audits the sandbox, agent and user', async () => {
    const r = await fetchAs(sbx, { url: `http://api.test:${api.port}/x` });
    expect([r.status, text(r.body), r.refused]).toEqual([200, 'hello from 127.0.0.5', null]);
    expect(sink.records.at(-1)).toMatchObject({ sandbox: 'sbx-f', agent: 'agent-sbx-f', user: 'user-sbx-f', channel: 'fetch', host: 'api.test', address: '127.0.0.5', status: 200, redirectHop: 0 });
  });

  it('refuses a forbidden host with the reason', async () => {
    const r = await fetchAs(sbx, { url: 'https://example.org/' });
    expect(r.status).toBe(403);
    expect(r.refused).toMatchObject({ code: 'no_matching_rule' });
    expect(header(r.headers, 'x-cordon-error')).toBe('no_matching_rule');
    expect(sink.records.at(-1)).toMatchObject({ sandbox: 'sbx-f', result: 'deny', host: 'example.org' });
  });

  it('refuses a forbidden address behind an allowed name', async () => {
    const r = await fetchAs(sbx, { url: `http://inside.test:${internal.port}/` });
    expect(r.refused?.code).toBe('forbidden_address');
    expect(internal.connections).toBe(0);
  });

  it('follows a redirect to an allowed host, each hop decided', async () => {
    const to = encodeURIComponent(`http://api.test:${api.port}/final`);
    const r = await fetchAs(sbx, { url: `http://api.test:${api.port}/redirect?to=${to}` });
    expect([r.status, text(r.body), r.redirected]).toEqual([200, 'hello from 127.0.0.5', true]);
    expect(sink.records.slice(-2).map((x) => [x.path, x.redirectHop])).toEqual([
      ['/redirect', 0],
      ['/final', 1],
    ]);
  });

  it('refuses a redirect to a forbidden host', async () => {
    for (const target of ['http://169.254.169.254/latest/meta-data/', 'http://localhost/', `http://inside.test:${internal.port}/`, 'https://example.org/']) {
      const r = await fetchAs(sbx, { url: `http://api.test:${api.port}/redirect?to=${encodeURIComponent(target)}` });
      expect(r.status, target).toBe(403);
      expect(r.redirected).toBe(true);
      expect(sink.records.at(-1)).toMatchObject({ result: 'deny', redirectHop: 1 });
    }
    expect(internal.connections).toBe(0);
  });

  it('bounds the number of redirects', async () => {
    const self = `http://api.test:${api.port}/redirect?to=`;
    const loop = `${self}${encodeURIComponent(`${self}${encodeURIComponent(`${self}${encodeURIComponent(`${self}%2F`)}`)}`)}`;
    const r = await fetchAs(sbx, { url: loop });
    expect(r.refused?.code).toBe('redirect_limit');
  });

  it('returns the redirect itself in manual mode', async () => {
    const r = await fetchAs(sbx, { url: `http://api.test:${api.port}/redirect?to=http://evil.example/`, redirect: 'manual' });
    expect([r.status, header(r.headers, 'location')]).toEqual([302, 'http://evil.example/']);
  });

  it('caps the response size', async () => {
    const r = await fetchAs(sbx, { url: `http://api.test:${api.port}/bytes?n=${1024 * 1024}` });
    expect([r.status, r.refused?.code]).toEqual([502, 'response_too_large']);
  });

  it('caps the response at a tighter per-request limit, never a looser one', async () => {
    const exact = await fetchAs(sbx, { url: `http://api.test:${api.port}/bytes?n=1024`, maxResponseBytes: 1024 });
    expect([exact.status, exact.body.length]).toEqual([200, 1024]);
    const over = await fetchAs(sbx, { url: `http://api.test:${api.port}/bytes?n=1025`, maxResponseBytes: 1024 });
    expect([over.status, over.refused?.code, over.refused?.reason]).toEqual([502, 'response_too_large', 'response exceeded 1024 bytes']);
    // Asking for more than the configured 64 KiB does not raise it.
    const looser = await fetchAs(sbx, { url: `http://api.test:${api.port}/bytes?n=${128 * 1024}`, maxResponseBytes: 10 * 1024 * 1024 });
    expect([looser.status, looser.refused?.reason]).toEqual([502, `response exceeded ${64 * 1024} bytes`]);
  });

  it('injects the secret upstream over https and redacts it from the response', async () => {
    const before = secure.seen.length;
    const r = await fetchAs(sbx, { url: `https://echo.test:${secure.port}/echo`, method: 'POST', headers: { 'x-api-key': 'sandbox-guess' }, body: 'hi' });
    expect(r.status).toBe(200);
    expect(secure.seen.slice(before)[0]?.headers['x-api-key']).toBe(SECRET);
    expect(text(r.body)).not.toContain(SECRET);
    expect(text(r.body)).toContain('[redacted]');
    expect(JSON.stringify(sink.records)).not.toContain(SECRET);
    expect(sink.records.at(-1)?.injected).toEqual(['x-api-key']);
  });

  it('applies method rules where the request is visible', async () => {
    const r = await fetchAs(sbx, { url: `https://echo.test:${secure.port}/echo`, method: 'DELETE' });
    expect(r.refused?.code).toBe('no_matching_rule');
  });
});

describe('guarded fetch: report mode never injects into a would-deny request', () => {
  it('allows and reports, without the secret', async () => {
    const policy = parseEgressPolicy(
      `name: rep
mode: report
allow:
  - host: echo.test
    ports: [${secure.port}]
    inject:
      header: X-Api-Key
      value: "\${secret:KEY}"
allow_cidrs: [127.0.0.6/32]
deny_cidrs: [127.0.0.6/32]
`,
      'rep.yaml',
    );
    const guard = createEgressGuard({ policies: new Map([[policy.name, policy]]), resolver: createStaticResolver({ 'echo.test': '127.0.0.6' }), secrets: createStaticSecretStore({ KEY: SECRET }) });
    const audit = createMemoryAuditSink();
    const f = createGuardedFetch({ guard, pools, audit });
    const before = secure.seen.length;
    const r = await f(testIdentity('sbx-rep', 'rep'), { url: `https://echo.test:${secure.port}/echo` });
    expect(r.status).toBe(200);
    expect(secure.seen.slice(before)[0]?.headers['x-api-key']).toBeUndefined();
    expect(audit.records.at(-1)).toMatchObject({ result: 'allow', wouldDeny: true, code: 'denied_by_cidr', injected: [] });
  });
});
