import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signSandboxToken } from '../../src/identity/sandbox-token.ts';
import { signOperatorToken } from '../../src/identity/operator-token.ts';
import { startOperatorFixture, type OperatorFixture } from '../support/operator-fixture.ts';
import { operatorClaims, operatorToken } from '../support/operator-tokens.ts';
import { claimsFor, ed25519Token, hmacToken, nowSec, unsignedToken, ASSERTION_HEADER } from '../support/tokens.ts';

// Who may reach the operator listener: only an approver's own one-request JWT (or a web
// session, see operator-session.test.ts). Every other credential Cordon knows is refused.
let fx: OperatorFixture;
let approvalId: string;

beforeAll(async () => {
  fx = await startOperatorFixture();
  approvalId = fx.approvals.add({ input: { path: '/etc/app.conf', content: 'x' } }).id;
}, 30_000);
afterAll(async () => fx?.close());

const routes = (): [string, string][] => [
  ['GET', '/operator/v1/approvals'],
  ['GET', `/operator/v1/approvals/${approvalId}`],
  ['POST', `/operator/v1/approvals/${approvalId}/decision`],
  ['POST', '/operator/v1/login-links'],
  ['GET', '/operator/v1/session'],
  ['POST', '/operator/v1/logout'],
];

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await request(`${fx.url}${path}`, {
    method: method as 'GET',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text === '' ? null : (JSON.parse(text) as { error?: { code: string; details: { reason?: string } } } & Record<string, unknown>) };
}

describe('operator routes refuse what is not an operator credential', () => {
  it('answers 401 AUTH_MISSING_TOKEN on every operator route without credentials, and nothing is decided', async () => {
    for (const [method, path] of routes()) {
      const r = await call(method, path, {}, method === 'POST' ? {} : undefined);
      expect([path, r.status, r.json?.error?.code]).toEqual([path, 401, 'AUTH_MISSING_TOKEN']);
    }
    expect(fx.approvals.received).toEqual([]);
  });

  it('refuses, with 401 on every route, each kind of token that is not a fresh operator JWT', async () => {
    const ana = fx.approvers.ana!;
    const agentKey = generateKeyPairSync('ed25519').privateKey;
    const cordonKey = generateKeyPairSync('ed25519').privateKey;
    const sandboxKey = generateKeyPairSync('ed25519');
    const now = nowSec();
    const cases: Record<string, () => Promise<string> | string> = {
      // An agent's own bearer token, even one signed with the approver's key under the approver's name.
      'agent bearer token': () => ed25519Token(agentKey, claimsFor('builder')),
      "agent token signed with the approver's key": () => ed25519Token(ana.privateKey, claimsFor('ana')),
      'agent assertion': () => ed25519Token(agentKey, claimsFor('builder', 'cordon', 30), { ...ASSERTION_HEADER }),
      'delegated access token (at+jwt)': () =>
        ed25519Token(cordonKey, { iss: 'cordon', sub: 'alice', aud: 'cordon', act: { sub: 'builder' }, user_iss: 'https://idp.example', iat: now, exp: now + 60, jti: randomUUID() }, { alg: 'EdDSA', typ: 'at+jwt' }),
      'sandbox token': () => signSandboxToken({ privateKey: sandboxKey.privateKey, publicKey: sandboxKey.publicKey, kid: 'k' }, 'cordon', { id: 'sbx_1', uri: 'spiffe://cordon/sandbox/sbx_1', agent: 'builder', user: null, egressPolicy: null, expiresAt: now + 60 }),
      'operator JWT for another audience': () => operatorToken(ana.privateKey, 'ana', { aud: 'cordon' }),
      'alg none': () => unsignedToken(operatorClaims('ana')),
      'HS256 keyed with the public key': () => hmacToken(ana.publicKey.export({ type: 'spki', format: 'pem' }).toString(), operatorClaims('ana')),
      expired: () => operatorToken(ana.privateKey, 'ana', { iat: now - 120, exp: now - 60 }),
      'lives longer than 60 s': () => operatorToken(ana.privateKey, 'ana', { exp: now + 300 }),
      'signed by another key': () => operatorToken(agentKey, 'ana'),
      "names another approver (signed with ana's key)": () => operatorToken(ana.privateKey, 'ben'),
      'iss and sub differ': () => operatorToken(ana.privateKey, 'ana', { sub: 'ben' }),
      'unknown approver': () => operatorToken(agentKey, 'mallory'),
      'no jti': () => operatorToken(ana.privateKey, 'ana', { jti: undefined }),
      'not a JWT': () => 'hello.world',
    };
    for (const [what, make] of Object.entries(cases)) {
      for (const [method, path] of routes()) {
        const r = await call(method, path, { authorization: `Bearer ${await make()}` }, method === 'POST' ? {} : undefined);
        expect([what, path, r.status, r.json?.error?.code]).toEqual([what, path, 401, 'AUTH_INVALID_TOKEN']);
      }
    }
    expect(fx.approvals.received).toEqual([]);
  });

  it('accepts a fresh operator JWT once: the same token again is refused as replayed', async () => {
    const token = await signOperatorToken({ approver: 'ana', privateKey: fx.approvers.ana!.privateKey });
    const first = await call('GET', '/operator/v1/approvals', { authorization: `Bearer ${token}` });
    expect(first.status).toBe(200);
    expect((first.json as { approvals: { id: string }[] }).approvals.map((a) => a.id)).toContain(approvalId);
    const again = await call('GET', '/operator/v1/approvals', { authorization: `Bearer ${token}` });
    expect([again.status, again.json?.error?.details.reason]).toEqual([401, 'replayed']);
  });

  it('never falls back to a cookie when a token is sent and fails', async () => {
    const login = await call('POST', '/operator/v1/login', {}, { name: 'ana', password: fx.approvers.ana!.password });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const r = await call('GET', '/operator/v1/approvals', { cookie, authorization: `Bearer ${ed25519Token(generateKeyPairSync('ed25519').privateKey, claimsFor('builder'))}` });
    expect(r.status).toBe(401);
  });
});
