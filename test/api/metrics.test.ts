import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoopbackOnlyDialer, createStaticResolver } from '../../src/egress/index.ts';
import { makeEgressPolicyDir } from '../support/egress-dir.ts';
import { startUpstream, type LoopbackUpstream } from '../support/loopback-fixture.ts';
import { parsePrometheusText, type Scrape } from '../support/prometheus-text.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';

// GET /metrics on a real runner API: counters move by exactly the calls made, the format is
// read back by a strict parser, and nothing an agent sends can add series.
const SHIPPED_POLICIES = resolve(import.meta.dirname, '..', '..', 'policies');
const coder = makeTestAgent('coder', ['coding']);
const stranger = makeTestAgent('stranger', []);
const NO_DOCKER = { container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } };

let env: TestEnv;
let server: TestServer;
let plain: LoopbackUpstream;
const dirs: string[] = [];

beforeAll(async () => {
  plain = await startUpstream('127.0.0.2');
  const egressDir = makeEgressPolicyDir();
  writeFileSync(join(egressDir, 'test-plain.yaml'), ['name: test-plain', 'mode: enforce', 'allow:', `  - host: plain.test:${plain.port}`, 'allow_cidrs: [127.0.0.0/8]', ''].join('\n'));
  const cedarDir = mkdtempSync(join(tmpdir(), 'cordon-cedar-'));
  cpSync(SHIPPED_POLICIES, cedarDir, { recursive: true });
  writeFileSync(join(cedarDir, 'metrics-tests.cedar'), '@id("test-coder-fetches-test-hosts")\npermit (principal == Agent::"coder", action == Action::"net.fetch", resource is Url) when { resource.host like "*.test" };\n');
  dirs.push(egressDir, cedarDir);
  env = makeTestEnv([coder, stranger], { policyDir: cedarDir, sandbox: NO_DOCKER, egress: { policyDir: egressDir, toolPolicies: { code: 'test-plain' } } });
  server = await startTestServer(env.config, {
    egress: { resolver: createStaticResolver({ 'plain.test': '127.0.0.2', 'other.test': '127.0.0.2' }), dialer: createLoopbackOnlyDialer() },
  });
});

afterAll(async () => {
  await server?.close();
  await plain?.close();
  env?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const bearer = (agent: TestAgent) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`;

async function call(body: unknown, auth: string | null = bearer(coder)): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${server.url}/v1/invocations`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth === null ? {} : { authorization: auth }) }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}
const code = (source: string, agent = coder) => call({ tool: 'code', input: { language: 'javascript', source, timeoutMs: 10_000 } }, bearer(agent));

async function scrape(url = server.url): Promise<Scrape> {
  const res = await request(`${url}/metrics`);
  expect(res.statusCode).toBe(200);
  return parsePrometheusText(await res.body.text());
}

/** How much each series moved between two scrapes. */
const moved = (before: Scrape, after: Scrape) => (name: string, labels?: Record<string, string>) => after.value(name, labels) - before.value(name, labels);

describe('GET /metrics counts what the runner did', () => {
  it('moves the counters by exactly the calls made: allowed, failing code, denied, held, unknown tool, bad token, egress', async () => {
    const before = await scrape();
    const recordsBefore = server.audit.records.length;
    expect((await code('1 + 1')).json).toMatchObject({ status: 'ok' });
    expect((await code('throw new Error("boom")')).json).toMatchObject({ status: 'error' });
    expect((await code('1', stranger)).status).toBe(403);
    const held = await call({ tool: 'file.delete', input: { path: 'doomed.txt' } });
    expect(held).toMatchObject({ status: 202, json: { status: 'pending_approval', approval: { id: expect.stringMatching(/^apr_/) as string } } });
    expect((await call({ tool: 'no.such.tool', input: {} })).status).toBe(404);
    expect((await call({ tool: 'code', input: {} }, `Bearer ${ed25519Token(stranger.privateKey, claimsFor(coder.id))}`)).status).toBe(401);
    const fetched = await code(`(async () => { const r = await fetch('http://plain.test:${plain.port}/'); return await r.text() })()`);
    expect(fetched.json).toMatchObject({ status: 'ok', output: { value: 'hello from 127.0.0.2' } });
    const refused = await code(`(async () => (await fetch('http://other.test:${plain.port}/')).status)()`);
    expect(refused.json).toMatchObject({ status: 'ok', output: { value: 403 } });

    const after = await scrape();
    const d = moved(before, after);
    expect(d('cordon_invocations_total', { tool: 'code', outcome: 'ok' })).toBe(3);
    expect(d('cordon_invocations_total', { tool: 'code', outcome: 'error' })).toBe(1);
    expect(d('cordon_invocations_total', { tool: 'code', outcome: 'POLICY_DENIED' })).toBe(1);
    expect(d('cordon_invocations_total', { tool: 'file.delete', outcome: 'pending_approval' })).toBe(1);
    expect(d('cordon_invocations_total', { tool: 'unknown', outcome: 'TOOL_NOT_FOUND' })).toBe(1);
    expect(after.sum('cordon_invocations_total') - before.sum('cordon_invocations_total')).toBe(7);
    // Durations are of calls whose code ran: the three ok and the one that threw.
    expect(d('cordon_invocation_duration_seconds_count', { tool: 'code' })).toBe(4);
    expect(d('cordon_invocation_duration_seconds_count', { tool: 'file.delete' })).toBe(0);
    // One decision per call that reached the policy engine: 4 code runs allowed, 1 denied, 1 held.
    expect(d('cordon_policy_decision_seconds_count', { result: 'allow' })).toBe(4);
    expect(d('cordon_policy_decision_seconds_count', { result: 'deny' })).toBe(1);
    expect(d('cordon_policy_decision_seconds_count', { result: 'require_approval' })).toBe(1);
    expect(d('cordon_auth_refusals_total', { code: 'AUTH_INVALID_TOKEN', reason: 'bad_signature' })).toBe(1);
    expect(after.value('cordon_approvals_pending')).toBe(before.value('cordon_approvals_pending') + 1);
    // Egress by policy, as its audit records say: one allowed request, one refused (no rule for the host).
    expect(d('cordon_egress_requests_total', { policy: 'test-plain', result: 'allow', reason: 'allowed' })).toBe(1);
    expect(d('cordon_egress_requests_total', { policy: 'test-plain', result: 'deny', reason: 'no_matching_rule' })).toBe(1);
    const egress = server.audit.records.slice(recordsBefore).filter((r) => r.kind === 'egress');
    const bytes = (field: string) => egress.reduce((n, r) => n + Number(r.egress?.[field]), 0);
    expect(bytes('bytesFromUpstream')).toBeGreaterThan(0);
    expect(d('cordon_egress_bytes_total', { policy: 'test-plain', direction: 'from_upstream' })).toBe(bytes('bytesFromUpstream'));
    expect(d('cordon_egress_bytes_total', { policy: 'test-plain', direction: 'to_upstream' })).toBe(bytes('bytesToUpstream'));
    // Audit records by kind, as the log holds them.
    const written = server.audit.records.slice(recordsBefore);
    for (const kind of ['invocation', 'egress', 'approval', 'auth'] as const) {
      expect(d('cordon_audit_records_total', { kind }), kind).toBe(written.filter((r) => r.kind === kind).length);
    }
    expect(after.sum('cordon_audit_append_failures_total')).toBe(0);
  });

  it('reports live sandboxes by backend and kind', async () => {
    const gauge = (s: Scrape, kind: string) => s.value('cordon_sandboxes', { backend: 'isolate', kind });
    const before = await scrape();
    const made = await request(`${server.url}/v1/sandboxes`, { method: 'POST', headers: { authorization: bearer(coder), 'content-type': 'application/json' }, body: '{"profile":"js"}' });
    expect(made.statusCode).toBe(201);
    const { id } = (await made.body.json()) as { id: string };
    expect(gauge(await scrape(), 'session')).toBe(gauge(before, 'session') + 1);
    // A per-call sandbox counts while its call runs.
    const running = code('const t = Date.now(); while (Date.now() - t < 1500); 1');
    await expect.poll(async () => gauge(await scrape(), 'call'), { timeout: 5000 }).toBe(1);
    await running;
    await expect.poll(async () => gauge(await scrape(), 'call'), { timeout: 5000 }).toBe(0);
    const gone = await request(`${server.url}/v1/sandboxes/${id}`, { method: 'DELETE', headers: { authorization: bearer(coder) } });
    expect(gone.statusCode).toBe(204);
    expect(gauge(await scrape(), 'session')).toBe(gauge(before, 'session'));
  });

  it('answers a scrape while calls are running', async () => {
    const calls = Array.from({ length: 16 }, (_, i) => code(`const t = Date.now(); while (Date.now() - t < 100); ${i}`));
    const during = await scrape();
    expect(during.families.get('cordon_invocations_total')?.type).toBe('counter');
    const results = await Promise.all(calls);
    expect(results.map((r) => r.json.status ?? JSON.stringify(r.json))).toEqual(results.map(() => 'ok'));
  });
});

describe('GET /metrics as a route', () => {
  it('answers in the text format 0.0.4 with HELP and TYPE for every series, and HEAD with no body', async () => {
    const res = await request(`${server.url}/metrics`);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const s = parsePrometheusText(await res.body.text());
    for (const name of ['cordon_invocations_total', 'cordon_invocation_duration_seconds', 'cordon_policy_decision_seconds', 'cordon_sandboxes', 'cordon_egress_requests_total', 'cordon_egress_bytes_total', 'cordon_approvals_pending', 'cordon_audit_records_total', 'cordon_audit_append_failures_total', 'cordon_auth_refusals_total']) {
      expect(s.families.get(name)?.help, name).toEqual(expect.any(String));
    }
    const head = await request(`${server.url}/metrics`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(await head.body.text()).toBe('');
  });

  it('ignores a query string: never echoed, never a different answer', async () => {
    const hostile = encodeURIComponent('"}\n# TYPE evil counter\nevil 1 <script>');
    const res = await request(`${server.url}/metrics?name[]=${hostile}&match=${hostile}`);
    expect(res.statusCode).toBe(200);
    const text = await res.body.text();
    expect(text).not.toContain('evil');
    expect(text).not.toContain('script');
    parsePrometheusText(text);
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])('%s answers 405 in Cordon\'s error shape with Allow', async (method) => {
    const res = await request(`${server.url}/metrics`, { method: method as 'POST', ...(method === 'OPTIONS' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }) });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(await res.body.json()).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED', requestId: expect.stringMatching(/^req_/) as string } });
  });

  it('is not served under other spellings of the path', async () => {
    for (const path of ['/metrics/', '/Metrics', '/metrics/x', '/v1/metrics']) {
      const res = await request(`${server.url}${path}`);
      expect(res.statusCode, path).toBe(404);
      expect(await res.body.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
  });

  it('is left out when metrics.enabled is false (404)', async () => {
    const off = makeTestEnv([coder], { sandbox: NO_DOCKER, metrics: { enabled: false } });
    const s = await startTestServer(off.config);
    try {
      const res = await request(`${s.url}/metrics`);
      expect(res.statusCode).toBe(404);
      expect(await res.body.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    } finally {
      await s.close();
      off.cleanup();
    }
  });
});

describe('bounded cardinality: nothing an agent sends becomes a label value', () => {
  it('1,000 calls with random tool names and random bad tokens add no series past the first of each kind', async () => {
    const sent: string[] = [];
    async function flood(n: number): Promise<void> {
      const one = async (i: number) => {
        const name = `t${randomBytes(6).toString('hex')}`;
        sent.push(name);
        if (i % 2 === 0) {
          await call({ tool: name, input: {}, session: name, profile: name });
          return;
        }
        // A token for a made-up agent, or plain garbage: each refusal has its reason, none its own series.
        const fake = makeTestAgent(name);
        await call({ tool: 'code', input: {} }, i % 4 === 1 ? `Bearer ${ed25519Token(fake.privateKey, claimsFor(name))}` : `Bearer ${name}.${randomUUID()}.x`);
      };
      for (let i = 0; i < n; i += 25) await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, j) => one(i + j)));
    }
    const before = await scrape();
    await flood(500);
    const first = await scrape();
    await flood(500);
    const second = await scrape();
    // Saturated: the second 500 (all new names) add nothing; the first added only their fixed buckets.
    expect(second.seriesCount).toBe(first.seriesCount);
    expect(first.seriesCount - before.seriesCount).toBeLessThanOrEqual(6);
    expect(second.sum('cordon_invocations_total', { tool: 'unknown' }) - before.sum('cordon_invocations_total', { tool: 'unknown' })).toBe(500);
    expect(second.sum('cordon_auth_refusals_total') - before.sum('cordon_auth_refusals_total')).toBe(500);
    const text = await (await request(`${server.url}/metrics`)).body.text();
    expect(sent.filter((name) => text.includes(name))).toEqual([]);
    expect(server.runtime.metrics.seriesCount).toBeLessThan(200);
  });
});
