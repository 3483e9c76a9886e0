import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { Client, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.ts';
import { createLoopbackOnlyDialer, createStaticResolver } from '../../src/egress/index.ts';
import { startUpstream, type LoopbackUpstream } from '../support/loopback-fixture.ts';
import { testTls } from '../support/test-tls.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// Code in an isolate fetching through the EgressGuard, over real loopback sockets.
// Test hosts (*.test) resolve through a static table to 127.0.0.x; the dialer refuses anything else.
const SHIPPED_POLICIES = resolve(import.meta.dirname, '..', '..', 'policies');
const SECRET = `sk-test-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const coder = makeTestAgent('coder', ['coding']);
const offline = makeTestAgent('offline', ['coding']);
let env: TestEnv;
let server: TestServer;
let secure: LoopbackUpstream;
let plain: LoopbackUpstream;
let evil: LoopbackUpstream;
let policyDir: string;
let cedarDir: string;
let logged = '';

beforeAll(async () => {
  secure = await startUpstream('127.0.0.1', { tls: true });
  plain = await startUpstream('127.0.0.2');
  evil = await startUpstream('127.0.0.3');
  policyDir = mkdtempSync(join(tmpdir(), 'cordon-egress-'));
  // The bundled profiles name bundled egress policies (browser.yaml: browse-open).
  cpSync(resolve(import.meta.dirname, '..', '..', 'egress-policies'), policyDir, { recursive: true });
  writeFileSync(
    join(policyDir, 'test-api.yaml'),
    [
      'name: test-api',
      'mode: enforce',
      'allow:',
      `  - host: api.test:${secure.port}`,
      '    schemes: [https]',
      '    inject:',
      '      header: Authorization',
      '      value: "Bearer ${secret:API_TOKEN}"',
      `  - host: plain.test:${plain.port}`,
      `  - host: private.test:${plain.port}`,
      `  - host: exfil.test:${plain.port}`,
      `  - host: denied.test:${plain.port}`,
      '# Loopback is opened for these test upstreams only.',
      'allow_cidrs: [127.0.0.0/8]',
      '',
    ].join('\n'),
  );
  // Cedar decides each fetch as net.fetch too: the shipped policies plus two for these tests.
  cedarDir = mkdtempSync(join(tmpdir(), 'cordon-cedar-'));
  cpSync(SHIPPED_POLICIES, cedarDir, { recursive: true });
  writeFileSync(
    join(cedarDir, 'egress-tests.cedar'),
    [
      '@id("test-coder-fetches-test-hosts")',
      'permit (principal == Agent::"coder", action == Action::"net.fetch", resource is Url)',
      'when { resource.host like "*.test" || resource.host == "169.254.169.254" || resource.host == "localhost" || resource.host == "127.0.0.1" };',
      '',
      '// A chain rule for the test: once a session has read untrusted content, it may not fetch "exfil.test".',
      '@id("test-no-exfil-after-untrusted")',
      'forbid (principal, action == Action::"net.fetch", resource is Url)',
      'when { context.session.untrusted_content && resource.host == "exfil.test" };',
      '',
      '// The egress policy lets denied.test through; Cedar does not.',
      '@id("test-no-denied-host")',
      'forbid (principal, action == Action::"net.fetch", resource is Url) when { resource.host == "denied.test" };',
      '',
    ].join('\n'),
  );
  env = makeTestEnv([coder, { ...offline }], {
    policyDir: cedarDir,
    egress: { policyDir, toolPolicies: { code: 'test-api' }, secrets: { API_TOKEN: { env: 'TEST_API_TOKEN' } } },
  });
  // The agent override: `offline` gets no egress at all.
  const config = { ...env.config, agents: env.config.agents.map((a) => (a.id === 'offline' ? { ...a, egressPolicy: null } : a)) };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged += chunk.toString();
      done();
    },
  });
  server = await startTestServer(config, {
    env: { TEST_API_TOKEN: SECRET },
    logger: createLogger('debug', sink),
    egress: {
      resolver: createStaticResolver({ 'api.test': '127.0.0.1', 'plain.test': '127.0.0.2', 'exfil.test': '127.0.0.2', 'denied.test': '127.0.0.2', 'evil.test': '127.0.0.3', 'private.test': '10.1.2.3' }),
      dialer: createLoopbackOnlyDialer(),
      upstreamCa: testTls().ca,
    },
  });
});

afterAll(async () => {
  await server?.close();
  await Promise.all([secure?.close(), plain?.close(), evil?.close()]);
  env?.cleanup();
  if (policyDir !== undefined) rmSync(policyDir, { recursive: true, force: true });
  if (cedarDir !== undefined) rmSync(cedarDir, { recursive: true, force: true });
});

async function runCode(source: string, agent: TestAgent = coder, session?: string) {
  const claims = claimsFor(agent.id);
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ed25519Token(agent.privateKey, claims)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source, timeoutMs: 10_000 }, ...(session === undefined ? {} : { session }) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: JSON.parse(text) as { status: string; output: { status: string; value: unknown; error?: { message: string } } }, jti: claims.jti as string };
}

const egressRecords = () => server.audit.records.filter((r) => r.kind === 'egress');

describe('isolate fetch through the EgressGuard', () => {
  it('fetches an allowed test host and gets the body; the decision is audited with sandbox, agent and user', async () => {
    const before = egressRecords().length;
    const r = await runCode(`(async () => { const res = await fetch('http://plain.test:${plain.port}/'); return [res.status, await res.text()] })()`);
    expect(r.json.output).toMatchObject({ status: 'ok', value: [200, 'hello from 127.0.0.2'] });
    const rec = egressRecords().slice(before)[0];
    const invocation = server.audit.records.find((x) => x.tokenId === r.jti);
    expect(rec).toMatchObject({ agent: 'coder', user: null, sandbox: invocation?.sandbox, decision: { result: 'allow' }, egress: { host: 'plain.test', port: plain.port, address: '127.0.0.2', method: 'GET', path: '/', status: 200 } });
    expect(String(rec?.egress?.sandboxUri)).toMatch(/^spiffe:\/\/cordon\.local\/sandbox\/js\/sbx_/);
  });

  it.each([
    ['a host the policy does not list', () => `http://evil.test:${evil.port}/`],
    ['a forbidden address behind an allowed name', () => `http://private.test:${plain.port}/`],
    ['a metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
    ['localhost', () => `http://localhost:${plain.port}/`],
    ['an IP literal spelled in hex', () => `http://0x7f.1:${plain.port}/`],
  ])('refuses %s with 403 and the reason, and audits it', async (_name, url) => {
    const before = egressRecords().length;
    const r = await runCode(`(async () => { const res = await fetch('${url()}'); return [res.status, res.headers.get('x-cordon-error'), await res.text()] })()`);
    const [status, header, body] = r.json.output.value as [number, string, string];
    expect(status).toBe(403);
    expect(header).toBeTruthy();
    expect(body.length).toBeGreaterThan(0);
    expect(egressRecords().slice(before)).toEqual([expect.objectContaining({ agent: 'coder', decision: expect.objectContaining({ result: 'deny' }) })]);
    expect(evil.seen.length).toBe(0);
  });

  it('refuses a redirect to a forbidden host: the guard decides every hop', async () => {
    const before = egressRecords().length;
    const to = encodeURIComponent(`http://evil.test:${evil.port}/stolen`);
    const r = await runCode(`(async () => { const res = await fetch('http://plain.test:${plain.port}/redirect?to=${to}'); return [res.status, res.headers.get('x-cordon-error')] })()`);
    expect((r.json.output.value as unknown[])[0]).toBe(403);
    const hops = egressRecords().slice(before);
    expect(hops.map((h) => h.decision?.result)).toEqual(['allow', 'deny']);
    expect(evil.seen.length).toBe(0);
  });

  it('injects the secret on the way out: it reaches the upstream and appears nowhere in output, logs or audit', async () => {
    const r = await runCode(`(async () => {
      const res = await fetch('https://api.test:${secure.port}/echo');
      const body = await res.json();
      console.log(JSON.stringify(body.headers));
      return { echoed: res.headers.get('x-echo-authorization'), body };
    })()`);
    expect(r.json.output.status).toBe('ok');
    const seen = secure.seen.find((s) => s.url === '/echo');
    expect(seen?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(r.text).not.toContain(SECRET);
    expect(JSON.stringify(server.audit.records)).not.toContain(SECRET);
    expect(logged).not.toContain(SECRET);
  });

  it('never lets the sandbox set the secret header itself or read it back', async () => {
    const r = await runCode(`(async () => { const res = await fetch('https://api.test:${secure.port}/echo', { headers: { authorization: 'Bearer mine' } }); return (await res.json()).headers.authorization })()`);
    expect(r.json.output.value).not.toBe('Bearer mine');
    expect(r.text).not.toContain(SECRET);
  });

  it('decides every fetch with the policy engine too: a chain rule stops a fetch once the session ingested untrusted content', async () => {
    const fetchExfil = `(async () => { const res = await fetch('http://exfil.test:${plain.port}/'); return [res.status, res.headers.get('x-cordon-error'), res.status === 403 ? (await res.json()).error.details.rule : null] })()`;
    // A fresh session may reach exfil.test …
    expect((await runCode(fetchExfil, coder, 'chain-1')).json.output.value).toEqual([200, null, null]);
    // … and that fetch ingested content from a host its egress policy does not mark trusted.
    const after = await runCode(fetchExfil, coder, 'chain-1');
    const [status, header, rule] = after.json.output.value as [number, string, string];
    expect(status).toBe(403);
    expect(header).toContain('policy_denied');
    expect(rule).toBe('test-no-exfil-after-untrusted');
    const denied = egressRecords().at(-1);
    expect(denied).toMatchObject({ decision: { result: 'deny', ruleId: 'test-no-exfil-after-untrusted' }, egress: { code: 'policy_denied', host: 'exfil.test' } });
    // Another session is unaffected.
    expect((await runCode(fetchExfil, coder, 'chain-2')).json.output.value).toEqual([200, null, null]);
  });

  it('refuses a fetch the policy engine does not permit, before the egress policy is consulted', async () => {
    const before = plain.seen.length;
    const r = await runCode(`(async () => (await fetch('http://plain.example:${plain.port}/')).status)()`);
    expect(r.json.output.value).toBe(403);
    expect(plain.seen.length).toBe(before);
  });

  it('gives a sandbox with no egress policy no fetch at all, whatever it sends', async () => {
    const r = await runCode('typeof fetch', offline);
    expect(r.json.output.value).toBe('undefined');
  });
});

describe('egress hooks on every hop and every channel', () => {
  it('refuses at the hop a redirect from an allowed host to a URL the policy engine denies, with an audit record', async () => {
    const seenBefore = plain.seen.length;
    const before = egressRecords().length;
    const target = `http://denied.test:${plain.port}/secret`;
    const r = await runCode(`(async () => { const res = await fetch('http://plain.test:${plain.port}/redirect?to=${encodeURIComponent(target)}'); return [res.status, res.headers.get('x-cordon-error'), (await res.json()).error.details.rule] })()`);
    expect(r.json.output.value).toEqual([403, expect.stringContaining('policy_denied'), 'test-no-denied-host']);
    // The first hop reached the upstream; the redirected one never did.
    expect(plain.seen.slice(seenBefore).map((x) => x.url)).toEqual([`/redirect?to=${encodeURIComponent(target)}`]);
    const records = egressRecords().slice(before);
    expect(records.map((x) => [x.decision?.result, x.egress?.host])).toEqual([
      ['allow', 'plain.test'],
      ['deny', 'denied.test'],
    ]);
    expect(records[1]).toMatchObject({ decision: { ruleId: 'test-no-denied-host' }, egress: { code: 'policy_denied', path: '/secret' } });
  });

  it('a request through the proxy channel updates session facts exactly as an isolate fetch does', async () => {
    const auth = { authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}`, 'content-type': 'application/json' };
    const make = async () => {
      const res = await request(`${server.url}/v1/sandboxes`, { method: 'POST', headers: { ...auth, authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}` }, body: '{"profile":"js"}' });
      const json = (await res.body.json()) as { id: string; identity: { egressPolicy: string } };
      expect(json.identity.egressPolicy).toBe('test-api');
      return json.id;
    };
    const principal = { agent: 'coder', user: null, tokenId: 't', expiresAt: Math.floor(Date.now() / 1000) + 60, scope: null };
    const factsOf = (id: string) => server.runtime.sessions.open('coder', null, `#sandbox/${id}`).facts();
    // One sandbox fetches from its isolate …
    const viaFetch = await make();
    const r = await request(`${server.url}/v1/invocations`, {
      method: 'POST',
      headers: { ...auth, authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}` },
      body: JSON.stringify({ tool: 'code', input: { language: 'js', source: `(await fetch('http://plain.test:${plain.port}/')).status` }, sandbox: viaFetch }),
    });
    expect(((await r.body.json()) as { output: { value: number } }).output.value).toBe(200);
    // … another makes the same request through its own proxy channel, as a container would.
    await server.runtime.startEgressProxy();
    const viaProxy = await make();
    const egress = server.runtime.sandboxes.manager.session(principal, viaProxy).sandbox.egress;
    expect(egress).not.toBeNull();
    const channel = await egress!.channel();
    expect(channel.socketPath).toContain(viaProxy);
    const client = new Client('http://localhost', { socketPath: channel.socketPath });
    try {
      const res = await client.request({ path: `http://plain.test:${plain.port}/`, method: 'GET' });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      // The policy engine decides proxy requests too.
      const denied = await client.request({ path: `http://denied.test:${plain.port}/`, method: 'GET' });
      expect(denied.statusCode).toBe(403);
      await denied.body.dump();
    } finally {
      await client.close();
    }
    expect({ ...factsOf(viaProxy), calls: 0 }).toEqual({ ...factsOf(viaFetch), calls: 0 });
    expect(factsOf(viaProxy)).toMatchObject({ untrusted_content: true, egress_hosts: ['plain.test'] });
    // Deleting the sandbox closes its channel.
    await request(`${server.url}/v1/sandboxes/${viaProxy}`, { method: 'DELETE', headers: { authorization: auth.authorization } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = new Client('http://localhost', { socketPath: channel.socketPath });
    try {
      await expect(after.request({ path: `http://plain.test:${plain.port}/`, method: 'GET' })).rejects.toThrow();
    } finally {
      await after.close();
    }
  });
});
