import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delegatedBearer } from '../support/delegation.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// Session sandboxes through the real API: state that lives across calls, visible to its owner only.
const SHIPPED_PROFILES = resolve(import.meta.dirname, '..', '..', 'sandboxes');
const coder = makeTestAgent('coder', ['coding']);
const other = makeTestAgent('other', ['coding']);
const researcher = makeTestAgent('researcher', ['research']);
let env: TestEnv;
let server: TestServer;
let idp: TestIssuer;
let profileDir: string;

beforeAll(async () => {
  idp = await startTestIssuer();
  profileDir = mkdtempSync(join(tmpdir(), 'cordon-profiles-'));
  cpSync(SHIPPED_PROFILES, profileDir, { recursive: true });
  // A profile whose sandboxes expire after one idle second, and of which one principal may hold two.
  const js = readFileSync(join(profileDir, 'js.yaml'), 'utf8');
  writeFileSync(
    join(profileDir, 'short.yaml'),
    js
      .replace(/^name: js$/m, 'name: short')
      .replace(/idleTtlMs: \d+/, 'idleTtlMs: 1000')
      .replace(/maxPerPrincipal: \d+/, 'maxPerPrincipal: 2'),
  );
  env = makeTestEnv([coder, other, researcher], {
    // No engine answers here: container profiles are refused, isolate profiles go on.
    sandbox: { profileDir, container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } },
    auth: { userIssuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl }] },
    users: [
      { id: 'alice@example.test', issuer: idp.issuer, groups: ['engineering'] },
      { id: 'bob@example.test', issuer: idp.issuer, groups: ['engineering'] },
      { id: 'carol@example.test', issuer: idp.issuer, groups: ['contractors'] },
    ],
  });
  server = await startTestServer(env.config);
});

afterAll(async () => {
  await server?.close();
  await idp?.close();
  env?.cleanup();
  if (profileDir !== undefined) rmSync(profileDir, { recursive: true, force: true });
});

const bearer = (agent: TestAgent) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`;

async function call(method: 'GET' | 'POST' | 'DELETE', path: string, auth: string, body?: unknown) {
  const res = await request(`${server.url}${path}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
  return { status: res.statusCode, json: (text === '' ? null : JSON.parse(text)) as Record<string, any> };
}

const create = (auth: string, profile = 'js') => call('POST', '/v1/sandboxes', auth, { profile });
const run = (auth: string, sandbox: string, source: string) => call('POST', '/v1/invocations', auth, { tool: 'code', input: { language: 'js', source }, sandbox });

/** A delegated token: `agent` acting for `user` (RFC 8693 through the real token endpoint). */
const delegated = (agent: TestAgent, user: string): Promise<string> => delegatedBearer(server.url, idp, agent, user);

describe('session sandboxes', () => {
  it('creates a js sandbox with its own identity and keeps globals from call to call', async () => {
    const made = await create(bearer(coder));
    expect(made.status).toBe(201);
    expect(made.json.id).toMatch(/^sbx_/);
    expect(made.json.identity.uri).toBe(`spiffe://cordon.local/sandbox/js/${made.json.id}`);
    expect(Date.parse(made.json.expiresAt)).toBeGreaterThan(Date.now());
    const id = made.json.id as string;
    expect((await run(bearer(coder), id, 'x = 1')).json.output).toMatchObject({ status: 'ok', value: 1 });
    expect((await run(bearer(coder), id, 'x + 1')).json.output).toMatchObject({ status: 'ok', value: 2 });
    // let/const and top-level await persist too, as in a REPL.
    expect((await run(bearer(coder), id, 'const y = await Promise.resolve(40)')).json.output).toMatchObject({ status: 'ok' });
    expect((await run(bearer(coder), id, 'let z = 2; y + z')).json.output).toMatchObject({ status: 'ok', value: 42 });
    // An error does not end the sandbox.
    expect((await run(bearer(coder), id, 'null.boom')).json.output).toMatchObject({ status: 'error', error: { name: 'TypeError', line: 1 } });
    expect((await run(bearer(coder), id, 'x + y')).json.output).toMatchObject({ status: 'ok', value: 41 });
    const audited = server.audit.records.filter((r) => r.kind === 'invocation' && r.sandbox === id && r.outcome !== 'started');
    expect(audited.length).toBe(6);
  });

  it('a per-call sandbox is still fresh every time', async () => {
    const once = (source: string) => call('POST', '/v1/invocations', bearer(coder), { tool: 'code', input: { language: 'javascript', source } });
    expect((await once('globalThis.leak = 42; leak')).json.output.value).toBe(42);
    expect((await once('typeof leak')).json.output.value).toBe('undefined');
  });

  it('answers 404 to another agent, and to the same agent acting for another user, exactly as to an unknown id', async () => {
    const id = (await create(bearer(coder))).json.id as string;
    const unknown = await run(bearer(other), 'sbx_doesnotexist', '1');
    expect(unknown).toMatchObject({ status: 404, json: { error: { code: 'SANDBOX_NOT_FOUND' } } });
    const foreign = await run(bearer(other), id, 'x');
    expect(foreign.status).toBe(404);
    expect(foreign.json.error.code).toBe('SANDBOX_NOT_FOUND');
    expect(foreign.json.error.message).toBe(unknown.json.error.message.replace('sbx_doesnotexist', id));
    expect((await call('DELETE', `/v1/sandboxes/${id}`, bearer(other))).status).toBe(404);
    expect((await call('GET', '/v1/sandboxes', bearer(other))).json.sandboxes.map((s: { id: string }) => s.id)).not.toContain(id);

    // Delegation: the sandbox coder made for alice is not coder-for-bob's, nor coder's own.
    const forAlice = await delegated(coder, 'alice@example.test');
    const forBob = await delegated(coder, 'bob@example.test');
    const aliceBox = (await create(forAlice)).json.id as string;
    expect((await run(forAlice, aliceBox, 'secret = "alice"')).json.output.status).toBe('ok');
    expect((await run(forBob, aliceBox, 'secret')).status).toBe(404);
    expect((await run(bearer(coder), aliceBox, 'secret')).status).toBe(404);
    expect((await run(forAlice, aliceBox, 'secret')).json.output.value).toBe('alice');
    // The sandbox we could not use still works for its owner.
    expect((await run(bearer(coder), id, '1 + 1')).json.output.value).toBe(2);
  });

  it('lists only the caller’s sandboxes; after DELETE the next call gets 404', async () => {
    const id = (await create(bearer(coder))).json.id as string;
    const listed = await call('GET', '/v1/sandboxes', bearer(coder));
    expect(listed.json.sandboxes.map((s: { id: string }) => s.id)).toContain(id);
    expect((await call('DELETE', `/v1/sandboxes/${id}`, bearer(coder))).status).toBe(204);
    expect((await run(bearer(coder), id, '1')).status).toBe(404);
    expect((await call('DELETE', `/v1/sandboxes/${id}`, bearer(coder))).status).toBe(404);
    expect((await call('GET', '/v1/sandboxes', bearer(coder))).json.sandboxes.map((s: { id: string }) => s.id)).not.toContain(id);
  });

  it('ends a sandbox after its idle TTL: the next call gets 404', async () => {
    const id = (await create(bearer(coder), 'short')).json.id as string;
    expect((await run(bearer(coder), id, 'n = 1')).json.output.value).toBe(1);
    await new Promise((r) => setTimeout(r, 1300));
    expect((await run(bearer(coder), id, 'n')).status).toBe(404);
  });

  it('holds each principal to the profile’s maxPerPrincipal (429), and deleting one frees a place', async () => {
    const a = (await create(bearer(other), 'short')).json.id as string;
    expect((await create(bearer(other), 'short')).status).toBe(201);
    const third = await create(bearer(other), 'short');
    expect(third.status).toBe(429);
    expect(third.json.error.code).toBe('RATE_LIMITED');
    // Another principal is not affected by other's share.
    expect((await create(bearer(coder), 'short')).status).toBe(201);
    await call('DELETE', `/v1/sandboxes/${a}`, bearer(other));
    expect((await create(bearer(other), 'short')).status).toBe(201);
  });

  it('ends a session sandbox whose host died: its owner gets 404, other agents are untouched', async () => {
    const mine = (await create(bearer(coder))).json.id as string;
    const theirs = (await create(bearer(other))).json.id as string;
    expect((await run(bearer(other), theirs, 'kept = 7')).json.output.value).toBe(7);
    expect((await run(bearer(coder), mine, 'kept = 1')).json.output.value).toBe(1);
    const pids = server.runtime.sandboxes.isolate.hostPids('coder');
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect((await run(bearer(coder), mine, 'kept')).status).toBe(404);
    expect((await run(bearer(other), theirs, 'kept')).json.output.value).toBe(7);
    // And coder can carry on in a new sandbox.
    const again = (await create(bearer(coder))).json.id as string;
    expect((await run(bearer(coder), again, '6 * 7')).json.output.value).toBe(42);
  });
});

describe('who may make a sandbox', () => {
  it('is decided by the policy engine (sandbox.create on the profile): deny by default, audited, nothing made', async () => {
    const before = server.runtime.sandboxes.manager.stats().sessions;
    const res = await create(bearer(researcher));
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('POLICY_DENIED');
    expect(server.runtime.sandboxes.manager.stats().sessions).toBe(before);
    const record = server.audit.records.find((r) => r.kind === 'sandbox' && r.agent === 'researcher');
    expect(record).toMatchObject({ action: 'sandbox.create', resource: 'profile:js', outcome: 'POLICY_DENIED', decision: { result: 'deny' } });
  });

  it('a delegated call needs the user allowed too', async () => {
    const forAlice = await delegated(coder, 'alice@example.test');
    expect((await create(forAlice)).status).toBe(201);
    const forContractor = await delegated(coder, 'carol@example.test');
    expect((await create(forContractor)).status).toBe(403);
  });
});

describe('hostile and malformed requests', () => {
  it.each([
    ['a number as profile', { profile: 5 }, 400, 'INPUT_INVALID'],
    ['an unknown field', { profile: 'js', image: 'x' }, 400, 'INPUT_INVALID'],
    ['an unknown profile', { profile: 'nope' }, 400, 'INPUT_INVALID'],
    ['a path as profile', { profile: '../etc' }, 400, 'INPUT_INVALID'],
    ['an array body', [], 400, 'INPUT_INVALID'],
  ])('POST /v1/sandboxes with %s → %i %s, and nothing is created', async (_name, body, status, code) => {
    const before = server.runtime.sandboxes.manager.stats().sessions;
    const res = await call('POST', '/v1/sandboxes', bearer(coder), body);
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
    expect(server.runtime.sandboxes.manager.stats().sessions).toBe(before);
  });

  it('refuses an anonymous caller before anything is made', async () => {
    const before = server.runtime.sandboxes.manager.stats().sessions;
    expect((await call('POST', '/v1/sandboxes', 'Bearer nope', { profile: 'js' })).status).toBe(401);
    expect(server.runtime.sandboxes.manager.stats().sessions).toBe(before);
  });

  it.each([
    ['a malformed id', '/v1/sandboxes/..%2F..%2Fetc'],
    ['an over-long id', `/v1/sandboxes/sbx_${'a'.repeat(90)}`],
    ['an unknown id', '/v1/sandboxes/sbx_unknown'],
  ])('DELETE with %s → 404', async (_name, path) => {
    const res = await call('DELETE', path, bearer(coder));
    expect(res.status).toBe(404);
  });

  it.each([
    ['a sandbox that is not an id', { tool: 'code', input: { language: 'js', source: '1' }, sandbox: 'x y' }, 'INPUT_INVALID'],
    ['an unknown profile', { tool: 'code', input: { language: 'js', source: '1' }, profile: 'nope' }, 'INPUT_INVALID'],
    ['a language the profile does not offer', { tool: 'code', input: { language: 'python', source: '1' } }, 'INPUT_INVALID'],
  ])('an invocation with %s → 400 %s', async (_name, body, code) => {
    const res = await call('POST', '/v1/invocations', bearer(coder), body);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(code);
  });

  it('an unknown language lists what the profile offers', async () => {
    const res = await call('POST', '/v1/invocations', bearer(coder), { tool: 'code', input: { language: 'python', source: '1' } });
    expect(res.json.error.message).toContain('it offers: javascript');
  });

  it('with no Docker engine answering, a container sandbox or call is refused saying how to start one, nothing is created, and isolates go on', async () => {
    const before = server.runtime.sandboxes.manager.stats().sessions;
    for (const res of [
      await create(bearer(coder), 'python'),
      await call('POST', '/v1/invocations', bearer(coder), { tool: 'code', input: { language: 'python', source: '1' }, profile: 'python' }),
    ]) {
      expect(res.status).toBe(503);
      expect(res.json.error.code).toBe('SANDBOX_UNAVAILABLE');
      expect(res.json.error.message).toContain('no Docker engine answers at unix:///nonexistent/cordon-test/docker.sock');
      expect(res.json.error.message).toContain('dockerd');
    }
    expect(server.runtime.sandboxes.manager.stats().sessions).toBe(before);
    const js = await call('POST', '/v1/invocations', bearer(coder), { tool: 'code', input: { language: 'js', source: '6 * 7' } });
    expect(js.json.output.value).toBe(42);
  });

  it('a call in a session sandbox may not name a different session', async () => {
    const id = (await create(bearer(coder))).json.id as string;
    const res = await call('POST', '/v1/invocations', bearer(coder), { tool: 'code', input: { language: 'js', source: '1' }, sandbox: id, session: 's1' });
    expect(res.status).toBe(400);
    expect(res.json.error.details.field).toBe('/session');
  });
});
