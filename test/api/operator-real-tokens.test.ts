import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { delegatedBearer } from '../support/delegation.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { startOperatorFixture, type OperatorFixture } from '../support/operator-fixture.ts';
import { makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';

// Real credentials from a running Cordon, each accepted by its runner API, are refused by the
// operator listener. The worst case on purpose: an agent registered under the approver's name
// with the approver's own public key, so only the token's type and audience tell them apart.
let fx: OperatorFixture;
let idp: TestIssuer;
let env: TestEnv;
let server: TestServer;
let agent: TestAgent;

beforeAll(async () => {
  fx = await startOperatorFixture(['ana']);
  idp = await startTestIssuer();
  const ana = fx.approvers.ana!;
  agent = { id: 'ana', groups: ['coding'], privateKey: ana.privateKey, publicKeyPem: ana.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  env = makeTestEnv([agent], { auth: { userIssuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl }] }, users: [{ id: 'alice@example.test', issuer: idp.issuer, groups: ['engineering'] }] });
  server = await startTestServer(env.config);
}, 30_000);
afterAll(async () => {
  await server?.close();
  await idp?.close();
  await fx?.close();
  env?.cleanup();
});

async function status(url: string, auth: string, method: 'GET' | 'POST' = 'GET'): Promise<number> {
  const res = await request(url, { method, headers: { authorization: auth, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) }, ...(method === 'POST' ? { body: '{}' } : {}) });
  await res.body.dump();
  return res.statusCode;
}

it("refuses the agent's own bearer token and a delegated token that the runner API accepts", async () => {
  const view = fx.approvals.add({ input: { path: '/workspace/x' } });
  const credentials: Record<string, string> = {
    "agent bearer token signed with the approver's key": `Bearer ${ed25519Token(agent.privateKey, claimsFor('ana'))}`,
    'delegated token from the token endpoint': await delegatedBearer(server.url, idp, agent, 'alice@example.test'),
  };
  for (const [what, auth] of Object.entries(credentials)) {
    expect([what, await status(`${server.url}/v1/tools`, auth)]).toEqual([what, 200]);
    for (const [method, path] of [
      ['GET', '/operator/v1/approvals'],
      ['GET', `/operator/v1/approvals/${view.id}`],
      ['POST', `/operator/v1/approvals/${view.id}/decision`],
      ['POST', '/operator/v1/login-links'],
    ] as const) {
      expect([what, path, await status(`${fx.url}${path}`, auth, method)]).toEqual([what, path, 401]);
    }
  }
  expect(fx.approvals.received).toEqual([]);
}, 30_000);
