import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';

export interface SignAgentTokenOptions {
  agentId: string;
  privateKey: KeyObject;
  audience: string;
  ttlSec: number;
  /** Seconds since epoch; defaults to now. */
  nowSec?: number;
}

/** An agent's self-signed bearer token: EdDSA, iss = sub = agent, short-lived, with a jti. */
export async function signAgentToken(options: SignAgentTokenOptions): Promise<string> {
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setIssuer(options.agentId)
    .setSubject(options.agentId)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + options.ttlSec)
    .setJti(randomUUID())
    .sign(options.privateKey);
}
