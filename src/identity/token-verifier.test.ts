import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CordonError } from '../core/errors.ts';
import { ASSERTION_HEADER, claimsFor, ed25519Token, hmacToken, nowSec, unsignedToken } from '../../test/support/tokens.ts';
import { makeTestAgent } from '../../test/support/test-config.ts';
import { keyFingerprint, parseEd25519PublicKey } from './agent-keys.ts';
import type { AgentRegistry, RegisteredAgent } from './agent-registry.ts';
import { createReplayCache } from './replay-cache.ts';
import { createTokenVerifier } from './token-verifier.ts';

const alice = makeTestAgent('alice');
const mallory = makeTestAgent('mallory');
const aliceKey = parseEd25519PublicKey(alice.publicKeyPem, 'test');

const registry: AgentRegistry = (() => {
  const entry: RegisteredAgent = { id: 'alice', description: '', groups: [], attributes: {}, publicKey: aliceKey, fingerprint: keyFingerprint(aliceKey), source: 'config' };
  const keyless: RegisteredAgent = { ...entry, id: 'keyless', publicKey: null, fingerprint: null };
  return { get: (id) => (id === 'alice' ? entry : id === 'keyless' ? keyless : undefined), list: () => [entry, keyless] };
})();

const verifier = createTokenVerifier({ registry, audience: 'cordon', maxLifetimeSec: 300, clockToleranceSec: 30 });

async function reasonOf(token: string): Promise<string> {
  try {
    await verifier.verify(token);
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).code).toBe('AUTH_INVALID_TOKEN');
    return String((err as CordonError).details.reason);
  }
  throw new Error('token was accepted');
}

describe('agent token verification', () => {
  it('accepts a well-formed EdDSA token and returns the agent and jti', async () => {
    const claims = claimsFor('alice');
    const principal = await verifier.verify(ed25519Token(alice.privateKey, claims));
    expect(principal).toEqual({ agent: 'alice', user: null, tokenId: claims.jti, expiresAt: claims.exp, scope: null });
  });

  it('accepts the same token again until it expires', async () => {
    const token = ed25519Token(alice.privateKey, claimsFor('alice'));
    await verifier.verify(token);
    await expect(verifier.verify(token)).resolves.toMatchObject({ agent: 'alice' });
  });

  const now = nowSec();
  const base = () => claimsFor('alice');
  const cases: [string, () => string, string][] = [
    ['unknown agent', () => ed25519Token(mallory.privateKey, claimsFor('mallory')), 'unknown_agent'],
    ['agent with no key yet', () => ed25519Token(alice.privateKey, { ...base(), iss: 'keyless', sub: 'keyless' }), 'unknown_agent'],
    ['signed by another key', () => ed25519Token(mallory.privateKey, base()), 'bad_signature'],
    ['signature of another token', () => {
      const a = ed25519Token(alice.privateKey, base()).split('.');
      const b = ed25519Token(alice.privateKey, { ...base(), aud: 'other' }).split('.');
      return `${a[0]}.${a[1]}.${b[2]}`;
    }, 'bad_signature'],
    ['alg none', () => unsignedToken(base()), 'algorithm_not_allowed'],
    ['alg none with a signature part', () => `${unsignedToken(base())}AAAA`, 'algorithm_not_allowed'],
    ['HS256 keyed with the public key', () => hmacToken(alice.publicKeyPem, base()), 'algorithm_not_allowed'],
    ['RS256 header on an Ed25519 signature', () => ed25519Token(alice.privateKey, base(), { alg: 'RS256' }), 'algorithm_not_allowed'],
    ['lower-case eddsa', () => ed25519Token(alice.privateKey, base(), { alg: 'eddsa' }), 'algorithm_not_allowed'],
    ['missing alg', () => ed25519Token(alice.privateKey, base(), { typ: 'JWT' }), 'algorithm_not_allowed'],
    ['wrong audience', () => ed25519Token(alice.privateKey, { ...base(), aud: 'another-cordon' }), 'wrong_audience'],
    ['audience list without us', () => ed25519Token(alice.privateKey, { ...base(), aud: ['a', 'b'] }), 'wrong_audience'],
    ['expired', () => ed25519Token(alice.privateKey, { ...base(), iat: now - 200, exp: now - 100 }), 'expired'],
    ['not yet valid (nbf)', () => ed25519Token(alice.privateKey, { ...base(), nbf: now + 600 }), 'not_yet_valid'],
    ['issued in the future', () => ed25519Token(alice.privateKey, { ...base(), iat: now + 600, exp: now + 700 }), 'not_yet_valid'],
    ['lifetime over five minutes', () => ed25519Token(alice.privateKey, { ...base(), iat: now, exp: now + 301 }), 'lifetime_too_long'],
    ['a day-long token', () => ed25519Token(alice.privateKey, { ...base(), iat: now, exp: now + 86_400 }), 'lifetime_too_long'],
    ['no exp', () => ed25519Token(alice.privateKey, { ...base(), exp: undefined }), 'missing_claim'],
    ['no iat', () => ed25519Token(alice.privateKey, { ...base(), iat: undefined }), 'missing_claim'],
    ['no jti', () => ed25519Token(alice.privateKey, { ...base(), jti: undefined }), 'missing_claim'],
    ['numeric jti', () => ed25519Token(alice.privateKey, { ...base(), jti: 42 }), 'missing_claim'],
    ['no iss', () => ed25519Token(alice.privateKey, { ...base(), iss: undefined }), 'missing_claim'],
    ['sub names someone else', () => ed25519Token(alice.privateKey, { ...base(), sub: 'bob' }), 'issuer_mismatch'],
    ['iss with path characters', () => ed25519Token(alice.privateKey, { ...base(), iss: '../alice' }), 'unknown_agent'],
    ['not a JWT', () => 'hello', 'malformed'],
    ['two parts', () => 'a.b', 'malformed'],
    ['garbage base64', () => '!!!.@@@.###', 'malformed'],
    ['oversized', () => 'a'.repeat(10_000), 'malformed'],
    ['empty', () => '', 'malformed'],
  ];

  it.each(cases)('refuses %s', async (_name, make, reason) => {
    expect(await reasonOf(make())).toBe(reason);
  });

  it('does not accept a cached token after it expires', async () => {
    let clock = Date.now();
    const v = createTokenVerifier({ registry, audience: 'cordon', maxLifetimeSec: 300, clockToleranceSec: 0, now: () => clock });
    const t = Math.floor(clock / 1000);
    const token = ed25519Token(alice.privateKey, { ...claimsFor('alice'), iat: t, exp: t + 10 });
    await v.verify(token);
    clock += 11_000;
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'AUTH_INVALID_TOKEN', details: { reason: 'expired' } });
  });

  it('an unknown agent is told agents are read at start-up and on reload; an attacker-chosen issuer is echoed 64 characters at most', async () => {
    const short = verifier.verify(ed25519Token(mallory.privateKey, claimsFor('mallory')));
    await expect(short).rejects.toMatchObject({ details: { reason: 'unknown_agent' }, message: expect.stringContaining('token issuer "mallory" is not a registered agent') });
    await expect(short).rejects.toMatchObject({ message: expect.stringContaining('run `cordon reload`') });
    const long = `${'a'.repeat(64)}${'Z'.repeat(1500)}`;
    const err = (await verifier.verify(ed25519Token(mallory.privateKey, { ...claimsFor('x'), iss: long, sub: long })).catch((e: unknown) => e)) as CordonError;
    expect(err.details.reason).toBe('unknown_agent');
    expect(err.message).toContain(`"${'a'.repeat(64)}…"`);
    expect(err.message).not.toContain('Z');
  });

  it('forgets a remembered token once the registry answers another entry for its agent (a reload removed or re-keyed it)', async () => {
    let current: RegisteredAgent | undefined = registry.get('alice');
    const v = createTokenVerifier({ registry: { get: (id) => (id === 'alice' ? current : undefined), list: () => [] }, audience: 'cordon', maxLifetimeSec: 300, clockToleranceSec: 30 });
    const token = ed25519Token(alice.privateKey, claimsFor('alice'));
    await v.verify(token);
    current = undefined;
    await expect(v.verify(token)).rejects.toMatchObject({ details: { reason: 'unknown_agent' } });
    const other = generateKeyPairSync('ed25519').publicKey;
    current = { ...(registry.get('alice') as RegisteredAgent), publicKey: other, fingerprint: keyFingerprint(other) };
    await expect(v.verify(token)).rejects.toMatchObject({ details: { reason: 'bad_signature' } });
  });

  it('rejects a key of the wrong type at load time', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parseEd25519PublicKey(rsa, 'cfg')).toThrowError(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => parseEd25519PublicKey('not a key', 'cfg')).toThrowError(expect.objectContaining({ code: 'KEY_INVALID' }));
  });
});

describe('token typing: what a token is for comes from its typ header', () => {
  const issuer = generateKeyPairSync('ed25519');
  const typed = createTokenVerifier({
    registry,
    audience: 'cordon',
    maxLifetimeSec: 300,
    clockToleranceSec: 30,
    issued: { issuer: 'cordon', publicKey: issuer.publicKey, maxLifetimeSec: 900, userIssuers: ['https://idp.test/'] },
    assertions: { maxLifetimeSec: 60, replay: createReplayCache(100) },
  });
  const short = () => claimsFor('alice', 'cordon', 30);
  const reason = async (p: Promise<unknown>) => (await p.then(() => 'accepted', (err: CordonError) => String(err.details.reason)));
  const issued = (claims: Record<string, unknown>, typ = 'at+jwt') => ed25519Token(issuer.privateKey, { ...claimsFor('x'), iss: 'cordon', sub: 'alice', ...claims }, { alg: 'EdDSA', typ });

  it.each([
    ['typ JWT', { alg: 'EdDSA', typ: 'JWT' }, 'wrong_type'],
    ['no typ', { alg: 'EdDSA' }, 'wrong_type'],
    ['typ at+jwt', { alg: 'EdDSA', typ: 'at+jwt' }, 'wrong_type'],
    ['typ as a number', { alg: 'EdDSA', typ: 7 }, 'wrong_type'],
    ['typ client-authentication+jwt', ASSERTION_HEADER, 'accepted'],
    ['typ application/client-authentication+jwt', { alg: 'EdDSA', typ: 'application/client-authentication+jwt' }, 'accepted'],
  ])('as an assertion: %s → %s', async (_name, header, expected) => {
    expect(await reason(typed.verifyAssertion(ed25519Token(alice.privateKey, short(), { ...header })))).toBe(expected);
  });

  it.each([
    ['typ client-authentication+jwt', ASSERTION_HEADER, 'wrong_type'],
    ['typ CLIENT-AUTHENTICATION+JWT', { alg: 'EdDSA', typ: 'CLIENT-AUTHENTICATION+JWT' }, 'wrong_type'],
    ['typ something+jwt', { alg: 'EdDSA', typ: 'something+jwt' }, 'wrong_type'],
    ['typ JWT', { alg: 'EdDSA', typ: 'JWT' }, 'accepted'],
    ['typ application/jwt', { alg: 'EdDSA', typ: 'application/jwt' }, 'accepted'],
    ['no typ', { alg: 'EdDSA' }, 'accepted'],
  ])('as a self-signed bearer token: %s → %s', async (_name, header, expected) => {
    expect(await reason(typed.verify(ed25519Token(alice.privateKey, short(), { ...header })))).toBe(expected);
  });

  it('accepts a token Cordon issued only when typed at+jwt', async () => {
    expect(await reason(typed.verify(issued({})))).toBe('accepted');
    expect(await reason(typed.verify(issued({}, 'JWT')))).toBe('wrong_type');
    expect(await reason(typed.verify(issued({}, 'client-authentication+jwt')))).toBe('wrong_type');
  });

  it('reads the user of a delegated token as (user_iss, sub), and refuses one without a trusted user_iss', async () => {
    const delegated = { sub: 'bob@example.test', act: { sub: 'alice' } };
    await expect(typed.verify(issued({ ...delegated, user_iss: 'https://idp.test/' }))).resolves.toMatchObject({ agent: 'alice', user: { issuer: 'https://idp.test/', subject: 'bob@example.test' } });
    expect(await reason(typed.verify(issued(delegated)))).toBe('missing_claim');
    expect(await reason(typed.verify(issued({ ...delegated, user_iss: '' })))).toBe('missing_claim');
    expect(await reason(typed.verify(issued({ ...delegated, user_iss: ['https://idp.test/'] })))).toBe('missing_claim');
    expect(await reason(typed.verify(issued({ ...delegated, user_iss: 'https://other.test/' })))).toBe('unknown_issuer');
  });
});
