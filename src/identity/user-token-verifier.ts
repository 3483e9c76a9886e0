import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { UserRef } from '../core/principal.ts';
import { USER_ID_PATTERN, type UserIssuerConfig } from '../config/config-schema.ts';
import { mapJoseError, tokenFault } from './token-fault.ts';

/** A verified user token: who the user is, and which agents may act for them. */
export interface VerifiedUser {
  /** The token's `iss` and `sub`: together, the user. */
  readonly user: UserRef;
  readonly expiresAt: number;
  /** Agent ids from `may_act`; null when the token names no one (then the issuer's `actors` decide). */
  readonly mayAct: readonly string[] | null;
  /** What the token itself is limited to (`scope` string or `scp` list); null when it says nothing. */
  readonly scope: readonly string[] | null;
}

export interface UserTokenVerifier {
  verify(token: string): Promise<VerifiedUser>;
}

export interface UserTokenVerifierOptions {
  issuers: readonly UserIssuerConfig[];
  /** Cordon's own local user issuer (embedded default), if enabled. */
  local: { issuer: string; publicKey: KeyObject } | null;
  defaultAudience: string;
  clockToleranceSec: number;
  /** User tokens older than this are refused even if their exp is later. */
  maxAgeSec: number;
  now?: () => number;
}

/** Asymmetric algorithms only: an HMAC "user token" could be forged by anyone holding the secret. */
const USER_TOKEN_ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];

/**
 * Verifies user tokens against the configured OIDC issuers' JWKS (fetched
 * and cached by jose) or Cordon's local user issuer. The issuer is chosen by
 * the token's exact `iss`; an unlisted issuer is refused before any fetch.
 */
export function createUserTokenVerifier(options: UserTokenVerifierOptions): UserTokenVerifier {
  const now = options.now ?? Date.now;
  const byIssuer = new Map<string, { key: JWTVerifyGetKey | KeyObject; audience: string }>();
  for (const cfg of options.issuers) {
    byIssuer.set(cfg.issuer, { key: createRemoteJWKSet(new URL(cfg.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 }), audience: cfg.audience ?? options.defaultAudience });
  }
  if (options.local !== null) byIssuer.set(options.local.issuer, { key: options.local.publicKey, audience: options.defaultAudience });

  return {
    async verify(token: string): Promise<VerifiedUser> {
      if (typeof token !== 'string' || token.length === 0 || token.length > 16_384) throw tokenFault('malformed', 'user token must be 1 to 16384 characters');
      let iss: unknown;
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
        iss = decodeJwt(token).iss;
      } catch (err) {
        throw tokenFault('malformed', 'user token is not a well-formed JWT', err);
      }
      if (typeof alg !== 'string' || !USER_TOKEN_ALGORITHMS.includes(alg)) throw tokenFault('algorithm_not_allowed', 'user token algorithm is not allowed');
      const source = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (source === undefined) throw tokenFault('unknown_issuer', 'user token issuer is not trusted by this Cordon');
      let payload: JWTPayload;
      try {
        const verifyOptions = {
          algorithms: USER_TOKEN_ALGORITHMS,
          issuer: iss as string,
          audience: source.audience,
          clockTolerance: options.clockToleranceSec,
          maxTokenAge: options.maxAgeSec,
          requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
          currentDate: new Date(now()),
        };
        ({ payload } = typeof source.key === 'function' ? await jwtVerify(token, source.key, verifyOptions) : await jwtVerify(token, source.key, verifyOptions));
      } catch (err) {
        throw mapJoseError(err);
      }
      if (typeof payload.sub !== 'string' || !USER_ID_PATTERN.test(payload.sub)) throw tokenFault('malformed', 'user token "sub" is not a valid user id');
      return Object.freeze({ user: Object.freeze({ issuer: iss as string, subject: payload.sub }), expiresAt: payload.exp as number, mayAct: parseMayAct(payload.may_act), scope: parseTokenScope(payload.scope, payload.scp) });
    },
  };
}

/** RFC 8693 §4.4 `may_act: {sub}`; we also accept a list of such objects. Anything else restricts to nobody. */
function parseMayAct(value: unknown): readonly string[] | null {
  if (value === undefined) return null;
  const entries = Array.isArray(value) ? value : [value];
  const subs: string[] = [];
  for (const e of entries) {
    const sub = (e as { sub?: unknown } | null)?.sub;
    if (typeof sub === 'string') subs.push(sub);
  }
  // A malformed may_act is a restriction we cannot read: allow no one rather than everyone.
  return Object.freeze(subs);
}

/**
 * A user token's own limit: `scope` (RFC 8693 §4.2, a space-separated string) or `scp` (a list, as
 * several identity providers write it). A claim present in any other shape limits to nothing, for
 * the same reason as a malformed may_act.
 */
function parseTokenScope(scope: unknown, scp: unknown): readonly string[] | null {
  if (scope === undefined && scp === undefined) return null;
  const parts: string[] = [];
  if (typeof scope === 'string') parts.push(...scope.split(' '));
  if (typeof scp === 'string') parts.push(...scp.split(' '));
  else if (Array.isArray(scp)) parts.push(...scp.filter((s): s is string => typeof s === 'string'));
  return Object.freeze([...new Set(parts.filter((p) => p !== ''))]);
}
