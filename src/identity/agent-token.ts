import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { ASSERTION_JWT_TYPE } from './token-types.ts';

export interface SignAgentTokenOptions {
  agentId: string;
  privateKey: KeyObject;
  audience: string;
  ttlSec: number;
  /** Seconds since epoch; defaults to now. */
  nowSec?: number;
}

function signSelf(options: SignAgentTokenOptions, typ: string): Promise<string> {
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', typ })
    .setIssuer(options.agentId)
    .setSubject(options.agentId)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + options.ttlSec)
    .setJti(randomUUID())
    .sign(options.privateKey);
}

/** An agent's self-signed bearer token: EdDSA, `typ: JWT`, iss = sub = agent, short-lived, with a jti. */
export function signAgentToken(options: SignAgentTokenOptions): Promise<string> {
  return signSelf(options, 'JWT');
}

/**
 * An agent's single-use assertion for the token endpoint (client_assertion or actor_token):
 * the same claims, typed `client-authentication+jwt` so it is never accepted as a bearer token.
 */
export function signAgentAssertion(options: SignAgentTokenOptions): Promise<string> {
  return signSelf(options, ASSERTION_JWT_TYPE);
}
