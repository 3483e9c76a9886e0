import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delegatedBearer } from '../support/delegation.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// Regression (issue 8, item 2): users were keyed by `sub` alone, so with two trusted issuers a
// token from the second naming the first's user ran as that user, with that user's groups.
// A user is (issuer, subject) everywhere: directory, Cedar, sessions, sandbox owners, audit.

let env: TestEnv;
let server: TestServer;
let idpA: TestIssuer;
let idpB: TestIssuer;
let policyDir: string;
const coder = makeTestAgent('coder', ['coding']);

beforeAll(async () => {
  [idpA, idpB] = await Promise.all([startTestIssuer(), startTestIssuer()]);
  // The shipped policies, plus one chain rule that makes a session's call count visible: a user's
  // second code.exec in one session is denied. Shared sessions would show as a denied first call.
  policyDir = mkdtempSync(join(tmpdir(), 'cordon-user-identity-policies-'));
  cpSync(resolve(import.meta.dirname, '..', '..', 'policies'), policyDir, { recursive: true });
  writeFileSync(join(policyDir, 'test-one-call.cedar'), '@id("test-one-call-per-session")\nforbid (principal is User, action == Action::"code.exec", resource)\nwhen { context.session.calls >= 1 };\n');
  env = makeTestEnv([coder], {
    policyDir,
    auth: {
      userIssuers: [
        { issuer: idpA.issuer, jwksUrl: idpA.jwksUrl },
        { issuer: idpB.issuer, jwksUrl: idpB.jwksUrl },
      ],
    },
    users: [
      // alice is an engineer at A only; bob is an engineer at both, as two different people.
      { id: 'alice@example.test', issuer: idpA.issuer, groups: ['engineering'] },
      { id: 'bob@example.test', issuer: idpA.issuer, groups: ['engineering'] },
      { id: 'bob@example.test', issuer: idpB.issuer, groups: ['engineering'] },
    ],
  });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  await Promise.all([idpA?.close(), idpB?.close()]);
  env?.cleanup();
  if (policyDir !== undefined) rmSync(policyDir, { recursive: true, force: true });
});

async function call(method: 'GET' | 'POST', path: string, auth: string, body?: unknown) {
  const res = await request(`${server.url}${path}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
}

const code = (auth: string, extra: Record<string, unknown> = {}) => call('POST', '/v1/invocations', auth, { tool: 'code', input: { language: 'javascript', source: '6*7' }, ...extra });

describe('two trusted issuers, the same sub', () => {
  it("never gives the second issuer's user the first's groups, and the audit record names the issuer", async () => {
    const aliceOfA = await delegatedBearer(server.url, idpA, coder, 'alice@example.test');
    const aliceOfB = await delegatedBearer(server.url, idpB, coder, 'alice@example.test');
    expect((await code(aliceOfA)).status).toBe(200);

    const denied = await code(aliceOfB);
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('POLICY_DENIED');
    expect(denied.json.error.details.decision).toMatchObject({
      agent: { result: 'allow' },
      user: { result: 'deny', principal: `User::${JSON.stringify(`${idpB.issuer}#alice@example.test`)}` },
    });

    const records = server.audit.records.filter((r) => r.kind === 'invocation' && r.agent === 'coder');
    expect(records.find((r) => r.outcome === 'POLICY_DENIED')?.user).toBe(`${idpB.issuer}#alice@example.test`);
    expect(records.find((r) => r.outcome === 'ok')?.user).toBe(`${idpA.issuer}#alice@example.test`);
  });

  it('keeps their named sessions apart', async () => {
    const bobOfA = await delegatedBearer(server.url, idpA, coder, 'bob@example.test');
    const bobOfB = await delegatedBearer(server.url, idpB, coder, 'bob@example.test');
    expect((await code(bobOfA, { session: 'shared-name' })).status).toBe(200);
    // The rule works: A's bob has used his one call in this session…
    expect((await code(bobOfA, { session: 'shared-name' })).json.error).toMatchObject({ code: 'POLICY_DENIED' });
    // …while B's bob, same agent, same sub, same session name, has a session of his own.
    expect((await code(bobOfB, { session: 'shared-name' })).status).toBe(200);
  });

  it('keeps their session sandboxes apart', async () => {
    const bobOfA = await delegatedBearer(server.url, idpA, coder, 'bob@example.test');
    const bobOfB = await delegatedBearer(server.url, idpB, coder, 'bob@example.test');
    const made = await call('POST', '/v1/sandboxes', bobOfA, { profile: 'js' });
    expect(made.status).toBe(201);
    const id = made.json.id as string;
    expect(made.json.identity.user).toBe(`${idpA.issuer}#bob@example.test`);

    const foreign = await code(bobOfB, { sandbox: id });
    expect(foreign.status).toBe(404);
    expect(foreign.json.error.code).toBe('SANDBOX_NOT_FOUND');
    expect((await call('GET', '/v1/sandboxes', bobOfB)).json.sandboxes.map((s: { id: string }) => s.id)).not.toContain(id);
    expect((await call('GET', '/v1/sandboxes', bobOfA)).json.sandboxes.map((s: { id: string }) => s.id)).toContain(id);
  });
});
