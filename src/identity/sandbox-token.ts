import { SignJWT } from 'jose';
import type { SigningKey } from './signing-keys.ts';

export const SANDBOX_TOKEN_AUDIENCE = 'cordon-egress';

/**
 * A sandbox's own credential for channels that need one (a browser's proxy
 * credentials): EdDSA, audience `cordon-egress`, subject the sandbox's SPIFFE
 * URI, expiring with the sandbox.
 */
export function signSandboxToken(key: SigningKey, issuer: string, identity: { id: string; uri: string; agent: string; user: string | null; egressPolicy: string | null; expiresAt: number }): Promise<string> {
  return new SignJWT({ sandbox: identity.id, agent: identity.agent, ...(identity.user === null ? {} : { user: identity.user }), egress_policy: identity.egressPolicy })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid })
    .setIssuer(issuer)
    .setSubject(identity.uri)
    .setAudience(SANDBOX_TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(identity.expiresAt)
    .setJti(identity.id)
    .sign(key.privateKey);
}
