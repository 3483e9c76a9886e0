import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { addLocalUser, mintLocalUserToken } from '../../src/runner/local-users.ts';
import { ASSERTION_HEADER, claimsFor, ed25519Token, nowSec } from '../support/tokens.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let env: TestEnv;
let server: TestServer;
let idp: TestIssuer;
const helper = makeTestAgent('helper', ['coding']);
const other = makeTestAgent('other', ['coding']);
// Policies grant code.exec to Group::"coding" agents and Group::"engineering" users.
const noexec = makeTestAgent('noexec', ['research']);

beforeAll(async () => {
  idp = await startTestIssuer();
  env = makeTestEnv([helper, other, noexec], {
    // helper and noexec may act for this issuer's users without may_act; other may not.
    // Local user tokens without may_act: only `other` may act with them.
    auth: { userIssuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl, actors: ['helper', 'noexec'] }], localUsers: { actors: ['other'] } },
    users: [
      { id: 'alice@example.test', issuer: idp.issuer, groups: ['engineering'] },
      { id: 'intern@example.test', issuer: idp.issuer, groups: ['contractors'] },
    ],
  });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  await idp?.close();
  env?.cleanup();
});

const assertion = (agent = helper, extra: Record<string, unknown> = {}) => ed25519Token(agent.privateKey, { ...claimsFor(agent.id, 'cordon', 30), ...extra }, { ...ASSERTION_HEADER });

async function tokenRequest(params: Record<string, string>, asJson = false) {
  const res = await request(`${server.url}/v1/token`, {
    method: 'POST',
    headers: { 'content-type': asJson ? 'application/json' : 'application/x-www-form-urlencoded' },
    body: asJson ? JSON.stringify(params) : new URLSearchParams(params).toString(),
  });
  return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as Record<string, unknown> & { cordon?: { code: string; details: Record<string, unknown> } } };
}

const exchange = async (subject: string, actor = assertion(), extra: Record<string, string> = {}) =>
  tokenRequest({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: JWT_TYPE, actor_token: actor, actor_token_type: JWT_TYPE, ...extra });

async function runWith(token: string) {
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '1+1' } }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
}

describe('POST /v1/token — client_credentials', () => {
  it('exchanges a single-use agent assertion for a Cordon-signed agent token that runs tools', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: assertion() });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: 'Bearer' });
    expect(res.headers['cache-control']).toBe('no-store');
    const token = res.json.access_token as string;
    expect(claimsOf(token)).toMatchObject({ iss: 'cordon', sub: 'helper', aud: 'cordon' });
    expect(res.json.expires_in).toBeLessThanOrEqual(900);
    expect((await runWith(token)).status).toBe(200);
  });

  it('accepts an assertion addressed to the token endpoint URL (RFC 7523), but not to another server', async () => {
    const ok = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: assertion(helper, { aud: `${server.url}/v1/token` }) });
    expect(ok.status).toBe(200);
    const other = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: assertion(helper, { aud: 'https://other-cordon.example/v1/token' }) });
    expect(other.status).toBe(401);
    expect(other.json.cordon?.details).toMatchObject({ reason: 'wrong_audience' });
  });

  it('does not accept a token-endpoint audience on a bearer token for tool calls', async () => {
    const token = ed25519Token(helper.privateKey, { ...claimsFor('helper'), aud: `${server.url}/v1/token` });
    expect((await runWith(token)).status).toBe(401);
  });

  it('takes a form only (RFC 6749 §3.2): JSON gets 415 invalid_request saying what to send', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: assertion() }, true);
    expect(res.status).toBe(415);
    expect(res.json).toMatchObject({ error: 'invalid_request', cordon: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
    expect(res.json.error_description).toContain('application/x-www-form-urlencoded');
  });

  it('refuses a reused assertion (jti replay)', async () => {
    const a = assertion();
    expect((await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: a })).status).toBe(200);
    const again = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: a });
    expect(again.status).toBe(401);
    expect(again.json).toMatchObject({ error: 'invalid_client', cordon: { code: 'TOKEN_CLIENT_INVALID', details: { reason: 'replayed' } } });
  });

  it.each([
    ['an assertion living over 60 s', () => assertion(helper, { iat: nowSec(), exp: nowSec() + 120 }), 'lifetime_too_long'],
    ['a forged assertion', () => ed25519Token(other.privateKey, claimsFor('helper', 'cordon', 30), { ...ASSERTION_HEADER }), 'bad_signature'],
    ['an expired assertion', () => assertion(helper, { iat: nowSec() - 100, exp: nowSec() - 50 }), 'expired'],
    ['an assertion for another audience', () => assertion(helper, { aud: 'elsewhere' }), 'wrong_audience'],
  ])('refuses %s with invalid_client', async (_name, make, reason) => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: make() });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: 'invalid_client', cordon: { details: { reason } } });
  });

  it('records each token it issues (agent, the new token\'s id) and counts refusals per client address, replays apart, never with the token', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: assertion() });
    const jti = claimsOf(res.json.access_token as string).jti;
    const issued = server.audit.records.filter((r) => r.kind === 'token' && r.token?.issuedId === jti);
    expect(issued).toEqual([expect.objectContaining({ agent: 'helper', user: null, outcome: 'issued', source: '127.0.0.1', token: { event: 'issued', grant: 'client_credentials', issuedId: jti, expiresInSec: res.json.expires_in } })]);

    const a = assertion(other);
    expect((await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: a })).status).toBe(200);
    expect((await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: a })).status).toBe(401);
    // The first replay from this address in the window is written (count 1); later ones are counted into it.
    const replayed = server.audit.records.filter((r) => r.kind === 'token' && r.token?.event === 'replayed');
    expect(replayed[0]).toMatchObject({ agent: null, tokenId: null, outcome: 'TOKEN_CLIENT_INVALID:replayed', source: '127.0.0.1', count: 1, token: { event: 'replayed', grant: 'client_credentials' } });
    expect(JSON.stringify(server.audit.records)).not.toContain(a);
    expect(JSON.stringify(server.audit.records)).not.toContain(res.json.access_token as string);
  });

  it('refuses a client_id that is not the asserting agent', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: assertion(), client_id: 'other' });
    expect(res.json.error).toBe('invalid_client');
  });

  it.each([
    ['no grant_type', {}, 'invalid_request', 400],
    ['an unknown grant_type', { grant_type: 'password' }, 'unsupported_grant_type', 400],
    ['a wrong assertion type', { grant_type: 'client_credentials', client_assertion_type: 'x', client_assertion: 'y' }, 'invalid_client', 401],
    ['a malformed scope', { grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: 'x', scope: 'DROP TABLE' }, 'invalid_scope', 400],
    ['another audience', { grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: 'x', audience: 'elsewhere' }, 'invalid_target', 400],
  ])('answers %s with the OAuth error', async (_name, params, error, status) => {
    const res = await tokenRequest(params as Record<string, string>);
    expect(res.status).toBe(status);
    expect(res.json.error).toBe(error);
    expect(typeof res.json.error_description).toBe('string');
  });

  it('refuses a parameter given twice', async () => {
    const res = await request(`${server.url}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&grant_type=client_credentials' });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('refuses an oversized body with 413', async () => {
    const res = await request(`${server.url}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=' + 'x'.repeat(2 * 1024 * 1024) });
    expect(res.statusCode).toBe(413);
    await res.body.dump();
  });
});

describe('POST /v1/token — token exchange (delegation)', () => {
  it('issues a delegated token with sub = user and act = agent, and both appear in the audit record', async () => {
    const res = await exchange(await idp.token('alice@example.test'));
    expect(res.status).toBe(200);
    expect(res.json.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    const token = res.json.access_token as string;
    const claims = claimsOf(token);
    expect(claims).toMatchObject({ iss: 'cordon', sub: 'alice@example.test', act: { sub: 'helper' }, user_iss: idp.issuer });
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(900);
    const run = await runWith(token);
    expect(run.status).toBe(200);
    // Its final record (a `started` one came before it, with the same principals).
    const rec = server.audit.records.findLast((r) => r.tokenId === claims.jti);
    expect(rec).toMatchObject({ agent: 'helper', user: `${idp.issuer}#alice@example.test`, outcome: 'ok' });
    const exchanged = server.audit.records.find((r) => r.kind === 'token' && r.token?.issuedId === claims.jti);
    expect(exchanged).toMatchObject({ agent: 'helper', user: `${idp.issuer}#alice@example.test`, outcome: 'exchanged', token: { event: 'exchanged', grant: EXCHANGE } });
  });

  it('denies (403) a delegated call the user may not make, even though the agent may; both principals are recorded', async () => {
    const token = (await exchange(await idp.token('intern@example.test'))).json.access_token as string;
    const run = await runWith(token);
    expect(run.status).toBe(403);
    const error = run.json.error as { code: string; details: { decision: { agent: { result: string }; user: { result: string; principal: string } } } };
    expect(error.code).toBe('POLICY_DENIED');
    expect(error.details.decision.agent.result).toBe('allow');
    expect(error.details.decision.user).toMatchObject({ result: 'deny', principal: `User::${JSON.stringify(`${idp.issuer}#intern@example.test`)}` });
    const rec = server.audit.records.find((r) => r.tokenId === claimsOf(token).jti);
    expect(rec).toMatchObject({ agent: 'helper', user: `${idp.issuer}#intern@example.test`, outcome: 'POLICY_DENIED' });
    expect(rec?.decision).toMatchObject({ result: 'deny', agent: { result: 'allow' }, user: { result: 'deny' } });
  });

  it('denies (403) a delegated call the agent may not make, even though the user may', async () => {
    const token = (await exchange(await idp.token('alice@example.test'), assertion(noexec))).json.access_token as string;
    const run = await runWith(token);
    expect(run.status).toBe(403);
    const error = run.json.error as { details: { decision: { agent: { result: string }; user: { result: string } } } };
    expect(error.details.decision).toMatchObject({ agent: { result: 'deny' }, user: { result: 'allow' } });
  });

  it('never outlives the user token', async () => {
    const res = await exchange(await idp.token('bob', { exp: nowSec() + 60 }));
    expect(res.json.expires_in).toBeLessThanOrEqual(60);
  });

  it('refuses an expired user token', async () => {
    const res = await exchange(await idp.token('alice', { iat: nowSec() - 7200, exp: nowSec() - 3600 }));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_request', cordon: { code: 'TOKEN_REQUEST_INVALID', details: { field: 'subject_token', reason: 'expired' } } });
  });

  it('refuses a forged user token (signed by a key the issuer does not publish)', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ iss: idp.issuer, sub: 'alice', aud: 'cordon', iat: nowSec(), exp: nowSec() + 300 })
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .sign(privateKey as CryptoKey);
    const res = await exchange(forged);
    expect(res.status).toBe(400);
    expect(res.json.cordon?.details).toMatchObject({ field: 'subject_token', reason: 'bad_signature' });
  });

  it('refuses a user token from an issuer it does not trust', async () => {
    const stranger = await startTestIssuer();
    try {
      const res = await exchange(await stranger.token('alice'));
      expect(res.json.cordon?.details).toMatchObject({ reason: 'unknown_issuer' });
    } finally {
      await stranger.close();
    }
  });

  it('refuses a user token for another audience', async () => {
    const res = await exchange(await idp.token('alice', { aud: 'some-other-api' }));
    expect(res.json.cordon?.details).toMatchObject({ reason: 'wrong_audience' });
  });

  it('refuses a reused actor assertion', async () => {
    const actor = assertion();
    expect((await exchange(await idp.token('alice'), actor)).status).toBe(200);
    const again = await exchange(await idp.token('alice'), actor);
    expect(again.status).toBe(400);
    expect(again.json.cordon?.details).toMatchObject({ field: 'actor_token', reason: 'replayed' });
  });

  it('refuses an agent outside may_act, and accepts one inside it', async () => {
    const onlyOther = await idp.token('carol', { may_act: { sub: 'other' } });
    const refused = await exchange(onlyOther);
    expect(refused.status).toBe(400);
    expect(refused.json.cordon?.details).toMatchObject({ reason: 'may_act' });
    expect((await exchange(await idp.token('carol', { may_act: { sub: 'helper' } }))).status).toBe(200);
  });

  it('refuses a malformed may_act rather than ignoring it', async () => {
    expect((await exchange(await idp.token('carol', { may_act: 'helper' }))).json.cordon?.details).toMatchObject({ reason: 'may_act' });
  });

  it('requires the actor token: a user token alone cannot be turned into an agent token', async () => {
    const res = await tokenRequest({ grant_type: EXCHANGE, subject_token: await idp.token('alice'), subject_token_type: JWT_TYPE });
    expect(res.status).toBe(400);
    expect(res.json.cordon?.details).toMatchObject({ field: 'actor_token', reason: 'missing' });
  });

  it('does not accept a delegated Cordon token as an actor assertion', async () => {
    const delegated = (await exchange(await idp.token('alice'))).json.access_token as string;
    const res = await exchange(await idp.token('alice'), delegated);
    expect(res.status).toBe(400);
    expect(res.json.cordon?.details).toMatchObject({ field: 'actor_token' });
  });

  it('does not accept a user token as a bearer token for invocations', async () => {
    expect((await runWith(await idp.token('alice'))).status).toBe(401);
  });
});

/** A token signed with this Cordon's own issuer key, as only Cordon could: to check what the verifier demands of one. */
function cordonSigned(claims: Record<string, unknown>, typ: string): string {
  const key = createPrivateKey(readFileSync(join(env.config.dataDir, 'keys', 'issuer.key'), 'utf8'));
  return ed25519Token(key, { iss: 'cordon', aud: 'cordon', iat: nowSec(), exp: nowSec() + 300, jti: crypto.randomUUID(), ...claims }, { alg: 'EdDSA', typ });
}

describe('token purpose: a bearer token and an assertion are never interchangeable', () => {
  const bearerLike = () => ed25519Token(helper.privateKey, claimsFor('helper', 'cordon', 30));

  it('refuses a bearer token (typ JWT, ≤ 60 s, aud = this instance) presented as client_assertion: invalid_client', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: bearerLike() });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: 'invalid_client', cordon: { code: 'TOKEN_CLIENT_INVALID', details: { field: 'client_assertion', reason: 'wrong_type' } } });
  });

  it('refuses an untyped token as client_assertion, and a bearer token as actor_token', async () => {
    const untyped = ed25519Token(helper.privateKey, claimsFor('helper', 'cordon', 30), { alg: 'EdDSA' });
    expect((await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: BEARER, client_assertion: untyped })).json).toMatchObject({ error: 'invalid_client', cordon: { details: { reason: 'wrong_type' } } });
    const res = await exchange(await idp.token('alice@example.test'), bearerLike());
    expect(res.status).toBe(400);
    expect(res.json.cordon?.details).toMatchObject({ field: 'actor_token', reason: 'wrong_type' });
  });

  it('refuses an assertion presented as a bearer token (401), whatever the spelling of its typ', async () => {
    for (const typ of ['client-authentication+jwt', 'application/Client-Authentication+JWT']) {
      const res = await runWith(ed25519Token(helper.privateKey, claimsFor('helper', 'cordon', 30), { alg: 'EdDSA', typ }));
      expect(res.status).toBe(401);
      expect(res.json.error).toMatchObject({ code: 'AUTH_INVALID_TOKEN', details: { reason: 'wrong_type' } });
    }
  });

  it('still runs a plain self-signed bearer token, with typ JWT or none', async () => {
    expect((await runWith(bearerLike())).status).toBe(200);
    expect((await runWith(ed25519Token(helper.privateKey, claimsFor('helper'), { alg: 'EdDSA' }))).status).toBe(200);
  });

  it('refuses a token signed with Cordon\'s own key unless it is typed at+jwt', async () => {
    const claims = { sub: 'helper', client_id: 'helper' };
    expect((await runWith(cordonSigned(claims, 'at+jwt'))).status).toBe(200);
    const res = await runWith(cordonSigned(claims, 'JWT'));
    expect(res.status).toBe(401);
    expect(res.json.error).toMatchObject({ details: { reason: 'wrong_type' } });
  });
});

describe('delegated tokens carry the user\'s issuer', () => {
  it('refuses a delegated token without user_iss, and one naming an issuer this Cordon does not trust', async () => {
    const delegated = { sub: 'alice@example.test', act: { sub: 'helper' }, client_id: 'helper' };
    expect((await runWith(cordonSigned({ ...delegated, user_iss: idp.issuer }, 'at+jwt'))).status).toBe(200);
    const missing = await runWith(cordonSigned(delegated, 'at+jwt'));
    expect(missing.status).toBe(401);
    expect(missing.json.error).toMatchObject({ details: { reason: 'missing_claim' } });
    const untrusted = await runWith(cordonSigned({ ...delegated, user_iss: 'https://gone.example.test/' }, 'at+jwt'));
    expect(untrusted.status).toBe(401);
    expect(untrusted.json.error).toMatchObject({ details: { reason: 'unknown_issuer' } });
  });
});

describe('token exchange honours the subject token', () => {
  it('issues at most the subject token\'s scope intersected with the requested scope', async () => {
    const res = await exchange(await idp.token('alice@example.test', { scope: 'code.exec fs.read' }), assertion(), { scope: 'code.exec fs.write' });
    expect(res.status).toBe(200);
    expect(res.json.scope).toBe('code.exec');
    expect(claimsOf(res.json.access_token as string).scope).toBe('code.exec');
  });

  it('narrows to the subject token\'s scope when none is requested, so a verb outside it is denied', async () => {
    const res = await exchange(await idp.token('alice@example.test', { scp: ['fs.read'] }));
    expect(res.status).toBe(200);
    expect(res.json.scope).toBe('fs.read');
    const run = await runWith(res.json.access_token as string);
    expect(run.status).toBe(403);
    expect(run.json.error).toMatchObject({ code: 'POLICY_DENIED' });
  });

  it('answers invalid_scope when nothing requested is in the subject token\'s scope', async () => {
    const res = await exchange(await idp.token('alice@example.test', { scp: ['fs.read'] }), assertion(), { scope: 'code.exec' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_scope', cordon: { details: { field: 'scope' } } });
  });

  it('accepts a user token without may_act only for the agents the config lets act for that issuer\'s users, every time', async () => {
    const token = await idp.token('alice@example.test');
    for (let i = 0; i < 2; i++) {
      const res = await exchange(token, assertion(other));
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: 'invalid_request', cordon: { details: { field: 'actor_token', reason: 'may_act' } } });
    }
    expect((await exchange(token, assertion(helper))).status).toBe(200);
  });

  it('applies auth.localUsers.actors to local user tokens, and may_act when the token has it', async () => {
    addLocalUser(env.config, 'dana', ['engineering']);
    const plain = await mintLocalUserToken(env.config, 'dana', { ttlSec: 300 });
    expect((await exchange(plain, assertion(helper))).json.cordon?.details).toMatchObject({ reason: 'may_act' });
    const viaConfig = await exchange(plain, assertion(other));
    expect(viaConfig.status).toBe(200);
    expect(claimsOf(viaConfig.json.access_token as string)).toMatchObject({ sub: 'dana', user_iss: 'cordon-local-users', act: { sub: 'other' } });
    const named = await mintLocalUserToken(env.config, 'dana', { ttlSec: 300, mayAct: ['helper'] });
    expect((await exchange(named, assertion(helper))).status).toBe(200);
    expect((await exchange(named, assertion(other))).json.cordon?.details).toMatchObject({ reason: 'may_act' });
  });
});
