import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { delegatedBearer } from '../support/delegation.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// One agent acting for many users still gets one share of the live sandboxes.
const coder = makeTestAgent('coder', ['coding']);
const other = makeTestAgent('other', ['coding']);
let env: TestEnv;
let server: TestServer;
let idp: TestIssuer;

beforeAll(async () => {
  idp = await startTestIssuer();
  env = makeTestEnv([coder, other], {
    sandbox: { maxSessionsPerAgent: 3, isolate: { hosts: 1 } },
    auth: { userIssuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl }] },
    users: [
      { id: 'alice@example.test', issuer: idp.issuer, groups: ['engineering'] },
      { id: 'bob@example.test', issuer: idp.issuer, groups: ['engineering'] },
    ],
  });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  await idp?.close();
  env?.cleanup();
});

const delegated = (agent: TestAgent, user: string): Promise<string> => delegatedBearer(server.url, idp, agent, user);

async function create(auth: string) {
  const res = await request(`${server.url}/v1/sandboxes`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: '{"profile":"js"}' });
  return { status: res.statusCode, json: (await res.body.json()) as { id?: string; error?: { code: string; message: string } } };
}

it('refuses an agent past sandbox.maxSessionsPerAgent whichever user it acts for, and not other agents', async () => {
  const forAlice = await delegated(coder, 'alice@example.test');
  const forBob = await delegated(coder, 'bob@example.test');
  expect((await create(forAlice)).status).toBe(201);
  expect((await create(forAlice)).status).toBe(201);
  const third = await create(forBob);
  expect(third.status).toBe(201);
  const fourth = await create(forBob);
  expect(fourth.status).toBe(429);
  expect(fourth.json.error?.code).toBe('RATE_LIMITED');
  expect(fourth.json.error?.message).toContain('maxSessionsPerAgent');
  expect((await create(`Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}`)).status).toBe(429);
  // Another agent still gets its own.
  expect((await create(`Bearer ${ed25519Token(other.privateKey, claimsFor(other.id))}`)).status).toBe(201);
  // Freeing one frees a place.
  await request(`${server.url}/v1/sandboxes/${third.json.id}`, { method: 'DELETE', headers: { authorization: forBob } });
  expect((await create(forBob)).status).toBe(201);
});
