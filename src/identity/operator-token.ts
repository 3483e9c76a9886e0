import type { ScryptHash } from './password-hash.ts';
import { randomUUID, type KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { ReplayCache } from './replay-cache.ts';
import { mapJoseError, tokenFault } from './token-fault.ts';
import { normaliseJwtType } from './token-types.ts';

/**
 * The operator CLI's credential: a JWT the approver signs with the same Ed25519 key that signs
 * their decisions, for one request. Its own `typ` and audience mean no agent token, delegated
 * token, sandbox token or assertion is ever one, and an operator token is never an agent's.
 */
export const OPERATOR_JWT_TYPE = 'cordon-operator+jwt';
export const OPERATOR_AUDIENCE = 'cordon-operator';
export const OPERATOR_TOKEN_MAX_LIFETIME_SEC = 60;

/** What the operator channel needs to know of an approver (config `approvals.approvers[]`). */
export interface OperatorApprover {
  readonly name: string;
  readonly publicKey: KeyObject;
  /** The parsed `passwordScrypt` of config; null: the approver cannot log in with a password. */
  readonly password: ScryptHash | null;
}

export interface SignOperatorTokenOptions {
  approver: string;
  privateKey: KeyObject;
  ttlSec?: number;
  nowSec?: number;
}

export function signOperatorToken(options: SignOperatorTokenOptions): Promise<string> {
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', typ: OPERATOR_JWT_TYPE })
    .setIssuer(options.approver)
    .setSubject(options.approver)
    .setAudience(OPERATOR_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlSec ?? 30))
    .setJti(randomUUID())
    .sign(options.privateKey);
}

export interface OperatorTokenVerifierOptions {
  /** Looked up per token, so a reloaded approver list takes effect at once. */
  approver: (name: string) => OperatorApprover | undefined;
  replay: ReplayCache;
  clockToleranceSec: number;
  now?: () => number;
}

const MAX_TOKEN_LENGTH = 4096;

/** Verifies an operator JWT and returns the approver's name; every refusal is AUTH_INVALID_TOKEN. */
export function createOperatorTokenVerifier(options: OperatorTokenVerifierOptions): (token: string) => Promise<string> {
  const now = options.now ?? Date.now;
  return async (token) => {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw tokenFault('malformed', `token must be 1 to ${MAX_TOKEN_LENGTH} characters`);
    let alg: unknown;
    let typ: unknown;
    let iss: unknown;
    try {
      ({ alg, typ } = decodeProtectedHeader(token));
      iss = decodeJwt(token).iss;
    } catch (err) {
      throw tokenFault('malformed', 'token is not a well-formed JWT', err);
    }
    // Before any key is looked up: `none` and HMAC-with-a-public-key never get further.
    if (alg !== 'EdDSA') throw tokenFault('algorithm_not_allowed', 'operator tokens are EdDSA');
    // An agent's bearer token (`JWT`), an issued one (`at+jwt`) or an assertion is refused by type first.
    if (normaliseJwtType(typ) !== OPERATOR_JWT_TYPE) throw tokenFault('wrong_type', `operator tokens have typ ${OPERATOR_JWT_TYPE}`);
    const approver = typeof iss === 'string' ? options.approver(iss) : undefined;
    if (approver === undefined) throw tokenFault('unknown_issuer', 'token does not name a registered approver');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, approver.publicKey, {
        algorithms: ['EdDSA'],
        typ: OPERATOR_JWT_TYPE,
        audience: OPERATOR_AUDIENCE,
        issuer: approver.name,
        subject: approver.name,
        clockTolerance: options.clockToleranceSec,
        maxTokenAge: OPERATOR_TOKEN_MAX_LIFETIME_SEC + options.clockToleranceSec,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
        currentDate: new Date(now()),
      }));
    } catch (err) {
      throw mapJoseError(err);
    }
    const { exp, iat, jti } = payload as { exp: number; iat: number; jti: unknown };
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 128) throw tokenFault('missing_claim', 'token "jti" must be a string of 1 to 128 characters');
    if (exp - iat > OPERATOR_TOKEN_MAX_LIFETIME_SEC) throw tokenFault('lifetime_too_long', `operator tokens live at most ${OPERATOR_TOKEN_MAX_LIFETIME_SEC}s`);
    if (iat > now() / 1000 + options.clockToleranceSec) throw tokenFault('not_yet_valid', 'token "iat" is in the future');
    // One request per token: one that leaked from a terminal or a proxy log is already spent.
    if (!options.replay.firstUse(`${approver.name}\u0000${jti}`, exp + options.clockToleranceSec)) {
      throw tokenFault('replayed', 'this operator token was already used; sign a new one');
    }
    return approver.name;
  };
}
