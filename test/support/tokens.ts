import { createHmac, randomUUID, sign, type KeyObject } from 'node:crypto';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export interface Claims {
  iss?: unknown;
  sub?: unknown;
  aud?: unknown;
  iat?: unknown;
  exp?: unknown;
  nbf?: unknown;
  jti?: unknown;
  [key: string]: unknown;
}

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

export function claimsFor(agent: string, audience = 'cordon', lifetimeSec = 120): Claims {
  const now = nowSec();
  return { iss: agent, sub: agent, aud: audience, iat: now, exp: now + lifetimeSec, jti: randomUUID() };
}

/** Builds a JWT by hand so tests can make every kind of bad token, not just what a library allows. */
export function ed25519Token(key: KeyObject, claims: Claims, header: Record<string, unknown> = { alg: 'EdDSA', typ: 'JWT' }): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/** The header of a client assertion (client_assertion, actor_token): explicitly typed, never a bearer token. */
export const ASSERTION_HEADER = Object.freeze({ alg: 'EdDSA', typ: 'client-authentication+jwt' });

/** A single-use assertion signed by `key` for `agent`: short-lived, typed, with a fresh jti. */
export function assertionToken(key: KeyObject, agent: string, extra: Claims = {}, audience = 'cordon'): string {
  return ed25519Token(key, { ...claimsFor(agent, audience, 30), ...extra }, { ...ASSERTION_HEADER });
}

export function unsignedToken(claims: Claims): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

export function hmacToken(secret: string | Buffer, claims: Claims): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
