import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { CordonError, isCordonError, type ErrorCode } from '../core/errors.ts';
import type { SigningKey } from './signing-keys.ts';
import { ACCESS_TOKEN_JWT_TYPE } from './token-types.ts';
import type { TokenVerifier } from './token-verifier.ts';
import type { UserTokenVerifier } from './user-token-verifier.ts';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const ASSERTION_TYPE_JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const TOKEN_TYPE_ID = 'urn:ietf:params:oauth:token-type:id_token';
const SUBJECT_TOKEN_TYPES = new Set([TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS, TOKEN_TYPE_ID]);
const SCOPE_TOKEN = /^[a-z][a-z0-9_.:*-]{0,63}$/;

/** RFC 6749 §5.1 / RFC 8693 §2.2.1 success response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  issued_token_type?: string;
  scope?: string;
}

export interface TokenServiceOptions {
  agents: TokenVerifier;
  users: UserTokenVerifier;
  signingKey: SigningKey;
  issuer: string;
  audience: string;
  lifetimeSec: number;
  /**
   * Agents that may act for an issuer's users when the user token has no `may_act`
   * (`auth.userIssuers[].actors`, `auth.localUsers.actors`); an issuer not listed: none.
   */
  actorsByIssuer: ReadonlyMap<string, readonly string[]>;
  now?: () => number;
}

/** Who asked, for the record of a token request (the service itself does not need it). */
export interface TokenRequestContext {
  /** The client's address. */
  readonly source?: string;
  readonly requestId?: string;
}

export interface TokenService {
  /** Serves one token request (form or JSON parameters). */
  issue(params: Readonly<Record<string, unknown>>, context?: TokenRequestContext): Promise<TokenResponse>;
}

/** The OAuth `error` value for each token-endpoint error. */
export const OAUTH_ERRORS: Partial<Record<ErrorCode, string>> = {
  TOKEN_REQUEST_INVALID: 'invalid_request',
  TOKEN_CLIENT_INVALID: 'invalid_client',
  TOKEN_GRANT_UNSUPPORTED: 'unsupported_grant_type',
  TOKEN_SCOPE_INVALID: 'invalid_scope',
  TOKEN_TARGET_INVALID: 'invalid_target',
  REQUEST_MALFORMED: 'invalid_request',
  REQUEST_TOO_LARGE: 'invalid_request',
  UNSUPPORTED_MEDIA_TYPE: 'invalid_request',
  INPUT_INVALID: 'invalid_request',
  UNAVAILABLE: 'temporarily_unavailable',
};

function bad(code: ErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown): CordonError {
  return new CordonError(code, message, { details, cause });
}

/**
 * A delegated token can do at most what the user's token allows: the requested scope intersected
 * with the subject token's own scope when it has one (RFC 8693 §2.1 leaves this to the server; a
 * token that narrows, never widens, is the point of exchanging it). Nothing left is invalid_scope.
 */
export function delegatedScope(requested: readonly string[] | null, subject: readonly string[] | null): string[] | null {
  if (subject === null) return requested === null ? null : [...requested];
  const allowed = subject.filter((s) => SCOPE_TOKEN.test(s));
  const scope = requested === null ? allowed : requested.filter((s) => allowed.includes(s));
  if (scope.length === 0) {
    throw bad('TOKEN_SCOPE_INVALID', `the subject token's scope (${subject.join(' ').slice(0, 200) || 'empty'}) allows none of the requested verbs`, { field: 'scope', reason: 'outside_subject_scope' });
  }
  return [...new Set(scope)];
}

/**
 * POST /v1/token: RFC 8693 token exchange (a user's token + the agent's own
 * single-use assertion → a delegated Cordon token with `act`) and
 * client_credentials with a single-use client assertion (RFC 7523 → an agent
 * token). Every token Cordon issues is EdDSA-signed with its own key, lives at
 * most `lifetimeSec` (≤ 15 min) and never outlives the user token it came from.
 */
export function createTokenService(options: TokenServiceOptions): TokenService {
  const now = options.now ?? Date.now;

  const param = (params: Readonly<Record<string, unknown>>, name: string, required: boolean): string | undefined => {
    const v = params[name];
    if (v === undefined || v === '') {
      if (required) throw bad('TOKEN_REQUEST_INVALID', `the "${name}" parameter is required`, { field: name, reason: 'missing' });
      return undefined;
    }
    if (typeof v !== 'string') throw bad('TOKEN_REQUEST_INVALID', `the "${name}" parameter must be given once, as a string`, { field: name, reason: 'invalid' });
    return v;
  };

  const parseScope = (raw: string | undefined): string[] | null => {
    if (raw === undefined) return null;
    const parts = raw.split(' ').filter((p) => p !== '');
    if (parts.length === 0 || parts.length > 32 || !parts.every((p) => SCOPE_TOKEN.test(p))) {
      throw bad('TOKEN_SCOPE_INVALID', 'scope must be 1 to 32 space-separated verbs such as "code.exec fs.read"', { field: 'scope' });
    }
    return [...new Set(parts)];
  };

  const checkTarget = (params: Readonly<Record<string, unknown>>) => {
    for (const name of ['audience', 'resource']) {
      const v = param(params, name, false);
      if (v !== undefined && v !== options.audience) throw bad('TOKEN_TARGET_INVALID', `${name} must be "${options.audience}" (this Cordon)`, { field: name });
    }
  };

  const sign = async (claims: Record<string, unknown>, subject: string, expiresAtSec: number): Promise<{ token: string; expiresIn: number }> => {
    const iat = Math.floor(now() / 1000);
    const exp = Math.min(iat + options.lifetimeSec, expiresAtSec);
    if (exp <= iat) throw bad('TOKEN_REQUEST_INVALID', 'the subject token expires too soon to issue a token', { reason: 'expired' });
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', typ: ACCESS_TOKEN_JWT_TYPE, kid: options.signingKey.kid })
      .setIssuer(options.issuer)
      .setSubject(subject)
      .setAudience(options.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(options.signingKey.privateKey);
    return { token, expiresIn: exp - iat };
  };

  /** Token faults from verifying a presented token, re-coded for the token endpoint. */
  const recode = async <T>(code: ErrorCode, what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (isCordonError(err) && err.code === 'AUTH_INVALID_TOKEN') {
        throw bad(code, `${what}: ${err.message}`, { ...err.details, field: what }, err);
      }
      throw err;
    }
  };

  return {
    async issue(params) {
      const grant = param(params, 'grant_type', true) as string;

      if (grant === GRANT_CLIENT_CREDENTIALS) {
        if (param(params, 'client_assertion_type', true) !== ASSERTION_TYPE_JWT_BEARER) {
          throw bad('TOKEN_CLIENT_INVALID', `client_assertion_type must be ${ASSERTION_TYPE_JWT_BEARER}`, { field: 'client_assertion_type' });
        }
        const assertion = param(params, 'client_assertion', true) as string;
        const scope = parseScope(param(params, 'scope', false));
        checkTarget(params);
        const agent = await recode('TOKEN_CLIENT_INVALID', 'client_assertion', () => options.agents.verifyAssertion(assertion));
        const clientId = param(params, 'client_id', false);
        if (clientId !== undefined && clientId !== agent.id) throw bad('TOKEN_CLIENT_INVALID', 'client_id does not match the client assertion', { field: 'client_id' });
        const { token, expiresIn } = await sign({ client_id: agent.id, ...(scope === null ? {} : { scope: scope.join(' ') }) }, agent.id, Number.MAX_SAFE_INTEGER);
        return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, ...(scope === null ? {} : { scope: scope.join(' ') }) };
      }

      if (grant === GRANT_TOKEN_EXCHANGE) {
        const subjectToken = param(params, 'subject_token', true) as string;
        const subjectType = param(params, 'subject_token_type', true) as string;
        if (!SUBJECT_TOKEN_TYPES.has(subjectType)) throw bad('TOKEN_REQUEST_INVALID', 'subject_token_type must be a JWT, access token or ID token type', { field: 'subject_token_type' });
        // The agent must prove itself: delegation without an actor would let anyone holding a user token act as any agent.
        const actorToken = param(params, 'actor_token', true) as string;
        if (param(params, 'actor_token_type', true) !== TOKEN_TYPE_JWT) throw bad('TOKEN_REQUEST_INVALID', `actor_token_type must be ${TOKEN_TYPE_JWT}`, { field: 'actor_token_type' });
        const requested = param(params, 'requested_token_type', false);
        if (requested !== undefined && requested !== TOKEN_TYPE_ACCESS && requested !== TOKEN_TYPE_JWT) throw bad('TOKEN_REQUEST_INVALID', 'requested_token_type must be an access token or JWT', { field: 'requested_token_type' });
        const requestedScope = parseScope(param(params, 'scope', false));
        checkTarget(params);
        const agent = await recode('TOKEN_REQUEST_INVALID', 'actor_token', () => options.agents.verifyAssertion(actorToken));
        const user = await recode('TOKEN_REQUEST_INVALID', 'subject_token', () => options.users.verify(subjectToken));
        // Who may act: the user token's may_act when it has one; else only the agents the config lets act
        // for this issuer's users. A user token is a bearer credential: without this, any agent that got
        // hold of one (a log, a shared proxy) could act for its user, as often as it liked until it expired.
        const mayAct = user.mayAct ?? options.actorsByIssuer.get(user.user.issuer) ?? [];
        if (!mayAct.includes(agent.id)) {
          const why = user.mayAct === null ? 'the user token has no may_act and the config does not list this agent among the issuer\'s actors' : 'may_act does not name it';
          throw bad('TOKEN_REQUEST_INVALID', `agent "${agent.id}" is not allowed to act for this user: ${why}`, { field: 'actor_token', reason: 'may_act' });
        }
        const scope = delegatedScope(requestedScope, user.scope);
        const claims = { act: { sub: agent.id }, client_id: agent.id, user_iss: user.user.issuer, ...(scope === null ? {} : { scope: scope.join(' ') }) };
        const { token, expiresIn } = await sign(claims, user.user.subject, user.expiresAt);
        return { access_token: token, issued_token_type: TOKEN_TYPE_ACCESS, token_type: 'Bearer', expires_in: expiresIn, ...(scope === null ? {} : { scope: scope.join(' ') }) };
      }

      throw bad('TOKEN_GRANT_UNSUPPORTED', `grant_type must be ${GRANT_TOKEN_EXCHANGE} or ${GRANT_CLIENT_CREDENTIALS}`, { field: 'grant_type' });
    },
  };
}
