import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAgentCredentials } from './agent-credentials.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

describe('agent credentials', () => {
  it('signs a bearer token the server accepts: EdDSA, typ JWT, iss = sub = agent, the audience, a jti, the ttl', async () => {
    const creds = createAgentCredentials({ agentId: 'coder', privateKey, audience: 'cordon-test', tokenTtlSec: 120 });
    const token = (await creds.authorization()).replace(/^Bearer /, '');
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', typ: 'JWT' });
    const { payload } = await jwtVerify(token, publicKey, { audience: 'cordon-test', issuer: 'coder', subject: 'coder', algorithms: ['EdDSA'] });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(120);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reuses the token until a quarter of its life is left (at most 30 s), then signs a new one with a new jti', async () => {
    let nowMs = 1_000_000_000_000;
    const creds = createAgentCredentials({ agentId: 'coder', privateKey, audience: 'cordon', tokenTtlSec: 120, now: () => nowMs });
    const first = await creds.authorization();
    nowMs += 89_000;
    expect(await creds.authorization()).toBe(first);
    nowMs += 1000; // 30 s left
    const second = await creds.authorization();
    expect(second).not.toBe(first);
    expect(decodeJwt(second.slice(7)).jti).not.toBe(decodeJwt(first.slice(7)).jti);
    expect(decodeJwt(second.slice(7)).iat).toBe(nowMs / 1000);
  });

  it('signs each assertion anew: typ client-authentication+jwt, 30 s, never the same jti', async () => {
    const creds = createAgentCredentials({ agentId: 'coder', privateKey, audience: 'cordon', tokenTtlSec: 120 });
    const [a, b] = [await creds.assertion(), await creds.assertion()];
    expect(decodeProtectedHeader(a).typ).toBe('client-authentication+jwt');
    const [ca, cb] = [decodeJwt(a), decodeJwt(b)];
    expect((ca.exp ?? 0) - (ca.iat ?? 0)).toBe(30);
    expect(ca.jti).not.toBe(cb.jti);
  });

  it.each([
    ['a ttl the server refuses', { tokenTtlSec: 301 }, 'tokenTtlSec'],
    ['a ttl of zero', { tokenTtlSec: 0 }, 'tokenTtlSec'],
    ['an agent id with upper case', { agentId: 'Coder' }, 'agent'],
    ['an empty agent id', { agentId: '' }, 'agent'],
    ['a public key', { privateKey: publicKey }, 'agent'],
    ['PEM that is not a key', { privateKey: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n' }, 'agent'],
    ['an RSA key', { privateKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey }, 'agent'],
    ['not a key at all', { privateKey: 42 as unknown as string }, 'agent'],
  ])('refuses %s with CLIENT_OPTIONS_INVALID', (_name, override, field) => {
    expect(() => createAgentCredentials({ agentId: 'coder', privateKey, audience: 'cordon', tokenTtlSec: 120, ...override })).toThrow(expect.objectContaining({ code: 'CLIENT_OPTIONS_INVALID', details: { field } }));
  });
});
