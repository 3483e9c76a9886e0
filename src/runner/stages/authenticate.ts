import { CordonError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';
import type { TokenVerifier } from '../../identity/token-verifier.ts';

/** Stage 1: the bearer token from an Authorization header → the calling principal. */
export async function authenticate(verifier: TokenVerifier, authorization: string | undefined): Promise<Principal> {
  if (authorization === undefined || authorization.trim() === '') {
    throw new CordonError('AUTH_MISSING_TOKEN', 'send a bearer token: Authorization: Bearer <token> (get one with: cordon token --agent NAME)', { details: { reason: 'missing' } });
  }
  const match = /^Bearer +([A-Za-z0-9._~+/=-]+)\s*$/i.exec(authorization);
  if (match?.[1] === undefined) {
    throw new CordonError('AUTH_INVALID_TOKEN', 'the Authorization header must be "Bearer <token>"', { details: { reason: 'malformed' } });
  }
  return verifier.verify(match[1]);
}
