import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { CordonError } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import { AGENT_ID_PATTERN } from '../config/config-schema.ts';
import type { AgentRegistry } from './agent-registry.ts';

/** Why a token was refused: stable strings, sent as `details.reason`. */
export type TokenFault =
  | 'malformed'
  | 'algorithm_not_allowed'
  | 'unknown_agent'
  | 'bad_signature'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'missing_claim'
  | 'issuer_mismatch';

export interface TokenVerifierOptions {
  registry: AgentRegistry;
  audience: string;
  maxLifetimeSec: number;
  clockToleranceSec: number;
  /** For tests: the current time in ms. */
  now?: () => number;
  /** Verified tokens remembered (until they expire) so reuse costs a hash lookup. */
  cacheSize?: number;
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

const MAX_TOKEN_LENGTH = 8192;
const ALLOWED_ALGORITHMS = ['EdDSA'];

function fault(reason: TokenFault, message: string, cause?: unknown): CordonError {
  return new CordonError('AUTH_INVALID_TOKEN', message, { cause, details: { reason } });
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now;
  const cacheSize = options.cacheSize ?? 10_000;
  // Keyed by a hash of the whole token string: a hit is the exact bytes that were verified.
  const cache = new Map<string, Principal>();

  async function verifyUncached(token: string): Promise<Principal> {
    let alg: unknown;
    let issuer: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      issuer = decodeJwt(token).iss;
    } catch (err) {
      throw fault('malformed', 'token is not a well-formed JWT', err);
    }
    // Checked before any key lookup: `none`, HS256 with a public key as secret, and friends never get further.
    if (typeof alg !== 'string' || !ALLOWED_ALGORITHMS.includes(alg)) {
      throw fault('algorithm_not_allowed', `token algorithm ${JSON.stringify(String(alg)).slice(0, 40)} is not allowed; use EdDSA`);
    }
    if (typeof issuer !== 'string') throw fault('missing_claim', 'token has no "iss" claim naming the agent');
    const agent = AGENT_ID_PATTERN.test(issuer) ? options.registry.get(issuer) : undefined;
    if (agent?.publicKey == null) throw fault('unknown_agent', 'token issuer is not a registered agent');

    let payload;
    try {
      ({ payload } = await jwtVerify(token, agent.publicKey, {
        algorithms: ALLOWED_ALGORITHMS,
        audience: options.audience,
        issuer: agent.id,
        subject: agent.id,
        clockTolerance: options.clockToleranceSec,
        maxTokenAge: options.maxLifetimeSec + options.clockToleranceSec,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
        currentDate: new Date(now()),
      }));
    } catch (err) {
      throw mapJoseError(err);
    }
    const { exp, iat, jti } = payload as { exp: number; iat: number; jti: unknown };
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 128) throw fault('missing_claim', 'token "jti" must be a string of 1 to 128 characters');
    if (exp - iat > options.maxLifetimeSec) {
      throw fault('lifetime_too_long', `token lifetime ${exp - iat}s exceeds the maximum of ${options.maxLifetimeSec}s`);
    }
    if (iat > now() / 1000 + options.clockToleranceSec) throw fault('not_yet_valid', 'token "iat" is in the future');
    return Object.freeze({ agent: agent.id, user: null, tokenId: jti, expiresAt: exp });
  }

  return {
    async verify(token: string): Promise<Principal> {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        throw fault('malformed', `token must be 1 to ${MAX_TOKEN_LENGTH} characters`);
      }
      const key = createHash('sha256').update(token).digest('base64url');
      const hit = cache.get(key);
      if (hit !== undefined) {
        if (now() / 1000 < hit.expiresAt + options.clockToleranceSec) return hit;
        cache.delete(key);
        throw fault('expired', 'token has expired');
      }
      const principal = await verifyUncached(token);
      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(key, principal);
      return principal;
    },
  };
}

function mapJoseError(err: unknown): CordonError {
  if (err instanceof joseErrors.JWTExpired) {
    // jose reports both "exp passed" and "older than maxTokenAge" as expired.
    return fault('expired', 'token has expired', err);
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return fault('missing_claim', `token has no "${err.claim}" claim`, err);
    switch (err.claim) {
      case 'aud':
        return fault('wrong_audience', 'token audience is not this Cordon instance', err);
      case 'nbf':
      case 'iat':
        return fault('not_yet_valid', 'token is not yet valid', err);
      case 'iss':
      case 'sub':
        return fault('issuer_mismatch', 'token "iss" and "sub" must both be the agent id', err);
      default:
        return fault('malformed', `token claim "${err.claim}" is invalid`, err);
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return fault('bad_signature', 'token signature does not verify with the agent key', err);
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return fault('algorithm_not_allowed', 'token algorithm is not allowed; use EdDSA', err);
  return fault('malformed', 'token is not a well-formed JWT', err);
}
