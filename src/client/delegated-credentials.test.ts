import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAgentCredentials } from './agent-credentials.ts';
import { CordonClientError } from './client-errors.ts';
import { createDelegatedCredentials } from './delegated-credentials.ts';
import type { HttpAnswer, HttpRequest, Transport } from './http-transport.ts';

const agent = createAgentCredentials({ agentId: 'coder', privateKey: generateKeyPairSync('ed25519').privateKey, audience: 'cordon', tokenTtlSec: 120 });

/** A transport that records token requests and answers each with the next issued token. */
function tokenEndpoint(answer: (n: number) => HttpAnswer = (n) => ({ status: 200, body: { access_token: `tok${n}`, token_type: 'Bearer', expires_in: 600 }, requestId: null, retryAfterMs: null })) {
  const sent: HttpRequest[] = [];
  const transport: Transport = {
    closed: false,
    async request(req) {
      sent.push(req);
      await new Promise((r) => setImmediate(r));
      return answer(sent.length);
    },
    close: async () => undefined,
  };
  return { sent, transport };
}

describe('delegated credentials', () => {
  it('sends an RFC 8693 exchange: the user token as subject, a fresh agent assertion as actor', async () => {
    const { sent, transport } = tokenEndpoint();
    const creds = createDelegatedCredentials(transport, agent, 'user-token', { audience: 'cordon', scope: ['code.exec', 'fs.read'] });
    expect(await creds.authorization()).toBe('Bearer tok1');
    const req = sent[0];
    expect([req?.method, req?.path, req?.authorization]).toEqual(['POST', '/v1/token', undefined]);
    expect(req?.form).toMatchObject({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: 'user-token',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      audience: 'cordon',
      scope: 'code.exec fs.read',
    });
    const actor = req?.form?.actor_token ?? '';
    expect(decodeProtectedHeader(actor).typ).toBe('client-authentication+jwt');
    expect(decodeJwt(actor)).toMatchObject({ iss: 'coder', sub: 'coder', aud: 'cordon' });
  });

  it('reuses the token until a quarter of its life is left (at most 30 s), shares one exchange between concurrent calls, then renews with a new assertion', async () => {
    let nowMs = 1_000_000;
    const { sent, transport } = tokenEndpoint();
    const creds = createDelegatedCredentials(transport, agent, () => `user-token-${sent.length}`, { audience: 'cordon', now: () => nowMs });
    expect(await Promise.all([creds.authorization(), creds.authorization(), creds.authorization()])).toEqual(['Bearer tok1', 'Bearer tok1', 'Bearer tok1']);
    expect(sent).toHaveLength(1);
    nowMs += 569_000; // 31 s of 600 left
    expect(await creds.authorization()).toBe('Bearer tok1');
    nowMs += 1000;
    expect(await creds.authorization()).toBe('Bearer tok2');
    expect(sent.map((r) => r.form?.subject_token)).toEqual(['user-token-0', 'user-token-1']);
    expect(sent[0]?.form?.actor_token).not.toBe(sent[1]?.form?.actor_token);
  });

  it("throws the token endpoint's refusal typed by its Cordon code, and tries again on the next call", async () => {
    const { sent, transport } = tokenEndpoint((n) =>
      n === 1
        ? { status: 400, body: { error: 'invalid_request', error_description: 'agent "coder" is not allowed to act for this user', cordon: { code: 'TOKEN_REQUEST_INVALID', message: 'not allowed', details: { reason: 'may_act' }, requestId: 'req_1' } }, requestId: 'req_1', retryAfterMs: null }
        : { status: 200, body: { access_token: 'tok', token_type: 'bearer', expires_in: 60 }, requestId: null, retryAfterMs: null },
    );
    const creds = createDelegatedCredentials(transport, agent, 'user-token', { audience: 'cordon' });
    await expect(creds.authorization()).rejects.toMatchObject({ code: 'TOKEN_REQUEST_INVALID', status: 400, requestId: 'req_1', details: { reason: 'may_act' } });
    expect(await creds.authorization()).toBe('Bearer tok');
    expect(sent).toHaveLength(2);
  });

  it.each([
    ['no access_token', { token_type: 'Bearer', expires_in: 60 }],
    ['a token type other than Bearer', { access_token: 't', token_type: 'DPoP', expires_in: 60 }],
    ['a negative lifetime', { access_token: 't', token_type: 'Bearer', expires_in: -1 }],
    ['a lifetime that is not a number', { access_token: 't', token_type: 'Bearer', expires_in: '60' }],
    ['a token of 9000 characters', { access_token: 'x'.repeat(9000), token_type: 'Bearer', expires_in: 60 }],
  ])('refuses a token answer with %s as CLIENT_RESPONSE_MALFORMED', async (_name, body) => {
    const { transport } = tokenEndpoint(() => ({ status: 200, body, requestId: null, retryAfterMs: null }));
    await expect(createDelegatedCredentials(transport, agent, 'user-token', { audience: 'cordon' }).authorization()).rejects.toMatchObject({ code: 'CLIENT_RESPONSE_MALFORMED' });
  });

  it.each([
    ['an empty user token', '', undefined],
    ['a user token over 8192 characters', 'x'.repeat(8193), undefined],
    ['an empty scope list', 'user-token', []],
    ['a scope with a space', 'user-token', ['code.exec fs.read']],
  ])('refuses %s before anything is sent', (_name, token, scope) => {
    const { sent, transport } = tokenEndpoint();
    expect(() => createDelegatedCredentials(transport, agent, token, { audience: 'cordon', ...(scope === undefined ? {} : { scope }) })).toThrow(CordonClientError);
    expect(sent).toEqual([]);
  });
});
