import { randomUUID, type KeyObject } from 'node:crypto';
import { OPERATOR_AUDIENCE, OPERATOR_JWT_TYPE } from '../../src/identity/operator-token.ts';
import { ed25519Token, nowSec, type Claims } from './tokens.ts';

export const OPERATOR_HEADER = Object.freeze({ alg: 'EdDSA', typ: OPERATOR_JWT_TYPE });

export function operatorClaims(name: string, extra: Claims = {}): Claims {
  const now = nowSec();
  return { iss: name, sub: name, aud: OPERATOR_AUDIENCE, iat: now, exp: now + 30, jti: randomUUID(), ...extra };
}

/** An operator JWT built by hand, so tests can make every wrong one a library would refuse to. */
export function operatorToken(key: KeyObject, name: string, extra: Claims = {}, header: Record<string, unknown> = OPERATOR_HEADER): string {
  return ed25519Token(key, operatorClaims(name, extra), header);
}
