import { createHash, type KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Principal } from '../core/principal.ts';
import { AGENT_ID_PATTERN, USER_ID_PATTERN } from '../config/config-schema.ts';
import type { AgentRegistry, RegisteredAgent } from './agent-registry.ts';
import type { ReplayCache } from './replay-cache.ts';
import { mapJoseError, tokenFault } from './token-fault.ts';
import { ACCESS_TOKEN_JWT_TYPE, ASSERTION_JWT_TYPE, BEARER_JWT_TYPES, normaliseJwtType } from './token-types.ts';

export type { TokenFault } from './token-fault.ts';

export interface TokenVerifierOptions {
  registry: AgentRegistry;
  audience: string;
  /** Longest an agent's self-signed bearer token may live. */
  maxLifetimeSec: number;
  clockToleranceSec: number;
  /**
   * Tokens Cordon itself issued (token exchange, client credentials). A delegated one names its
   * user's issuer in `user_iss`, which must be one of `userIssuers` (still trusted).
   */
  issued?: { issuer: string; publicKey: KeyObject; maxLifetimeSec: number; userIssuers: readonly string[] };
  /**
   * Single-use assertions (client_assertion, actor_token): lifetime limit, replay cache, and
   * the token-endpoint URLs also accepted as their `aud` (RFC 7523 §3), besides `audience`.
   */
  assertions?: { maxLifetimeSec: number; replay: ReplayCache; endpointAudiences?: () => readonly string[] };
  /** For tests: the current time in ms. */
  now?: () => number;
  /** Verified bearer tokens remembered (until they expire) so reuse costs a hash lookup. */
  cacheSize?: number;
}

export interface TokenVerifier {
  /** A bearer token for an API call: the agent's own, or one Cordon issued. */
  verify(token: string): Promise<Principal>;
  /** A single-use agent assertion (≤ assertion lifetime, jti never seen before) → the agent. */
  verifyAssertion(token: string): Promise<RegisteredAgent>;
}

const MAX_TOKEN_LENGTH = 8192;
const ALLOWED_ALGORITHMS = ['EdDSA'];

/**
 * Agents are read at start-up and on reload: the usual cause of this refusal is an agent added
 * since, so the message says how to pick it up. The issuer is the caller's text: quoted, cut short.
 */
function unknownAgent(id: unknown, claim: 'issuer' | 'agent'): Error {
  const shown = typeof id === 'string' ? ` ${JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id)}` : '';
  return tokenFault('unknown_agent', `token ${claim}${shown} is not a registered agent with a key; agents are read at start-up and on reload: if you just added it, run \`cordon reload\` (or send the server SIGHUP)`);
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now;
  const cacheSize = options.cacheSize ?? 10_000;
  // Keyed by a hash of the whole token string: a hit is the exact bytes that were verified.
  // The agent it was verified against rides along: after a reload that removed the agent or
  // changed its key, the registry answers another object, and the token is verified afresh.
  const cache = new Map<string, { principal: Principal; agent: RegisteredAgent }>();

  function checkLength(token: string): void {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw tokenFault('malformed', `token must be 1 to ${MAX_TOKEN_LENGTH} characters`);
    }
  }

  function preflight(token: string): { alg: string; iss: string; typ: unknown } {
    checkLength(token);
    let alg: unknown;
    let iss: unknown;
    let typ: unknown;
    try {
      ({ alg, typ } = decodeProtectedHeader(token));
      iss = decodeJwt(token).iss;
    } catch (err) {
      throw tokenFault('malformed', 'token is not a well-formed JWT', err);
    }
    // Checked before any key lookup: `none`, HS256 with a public key as secret, and friends never get further.
    if (typeof alg !== 'string' || !ALLOWED_ALGORITHMS.includes(alg)) {
      throw tokenFault('algorithm_not_allowed', `token algorithm ${JSON.stringify(String(alg)).slice(0, 40)} is not allowed; use EdDSA`);
    }
    if (typeof iss !== 'string') throw tokenFault('missing_claim', 'token has no "iss" claim');
    return { alg, iss, typ: normaliseJwtType(typ) };
  }

  /** A token is used only for what its `typ` says it is for: checked before any key is tried. */
  function expectType(typ: unknown, allowed: readonly (string | undefined)[], expected: string): void {
    if (!allowed.includes(typ as string | undefined)) {
      throw tokenFault('wrong_type', `token "typ" ${JSON.stringify(typ ?? null)?.slice(0, 60)} is not allowed here; expected ${expected}`);
    }
  }

  async function verifyWith(token: string, key: KeyObject, issuer: string, subject: string | undefined, maxLifetimeSec: number, audience: string | string[] = options.audience): Promise<JWTPayload & { exp: number; iat: number; jti: string }> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ALLOWED_ALGORITHMS,
        audience,
        issuer,
        ...(subject === undefined ? {} : { subject }),
        clockTolerance: options.clockToleranceSec,
        maxTokenAge: maxLifetimeSec + options.clockToleranceSec,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
        currentDate: new Date(now()),
      }));
    } catch (err) {
      throw mapJoseError(err);
    }
    const { exp, iat, jti } = payload as { exp: number; iat: number; jti: unknown };
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 128) throw tokenFault('missing_claim', 'token "jti" must be a string of 1 to 128 characters');
    if (exp - iat > maxLifetimeSec) {
      throw tokenFault('lifetime_too_long', `token lifetime ${exp - iat}s exceeds the maximum of ${maxLifetimeSec}s`);
    }
    if (iat > now() / 1000 + options.clockToleranceSec) throw tokenFault('not_yet_valid', 'token "iat" is in the future');
    return payload as JWTPayload & { exp: number; iat: number; jti: string };
  }

  function agentOf(id: unknown, claim: 'issuer' | 'agent' = 'agent'): RegisteredAgent & { publicKey: KeyObject } {
    const agent = typeof id === 'string' && AGENT_ID_PATTERN.test(id) ? options.registry.get(id) : undefined;
    if (agent?.publicKey == null) throw unknownAgent(id, claim);
    return agent as RegisteredAgent & { publicKey: KeyObject };
  }

  async function verifyIssued(token: string): Promise<Principal> {
    const issued = options.issued;
    if (issued === undefined) throw tokenFault('unknown_agent', 'token issuer is not a registered agent');
    const payload = await verifyWith(token, issued.publicKey, issued.issuer, undefined, issued.maxLifetimeSec);
    const scope = typeof payload.scope === 'string' ? payload.scope.split(' ').filter((s) => s !== '') : null;
    const act = payload.act as { sub?: unknown } | undefined;
    if (act !== undefined) {
      // Delegated: sub is the user, act.sub the agent acting for them (RFC 8693 §4.1).
      const agent = agentOf(act.sub);
      if (typeof payload.sub !== 'string' || !USER_ID_PATTERN.test(payload.sub)) throw tokenFault('malformed', 'delegated token "sub" is not a user id');
      // The user is (user_iss, sub): without the issuer, `sub` alone could be any issuer's user of that name.
      const userIssuer = payload.user_iss;
      if (typeof userIssuer !== 'string' || userIssuer === '') throw tokenFault('missing_claim', 'delegated token has no "user_iss" claim');
      if (!issued.userIssuers.includes(userIssuer)) throw tokenFault('unknown_issuer', 'delegated token names a user issuer this Cordon no longer trusts');
      return Object.freeze({ agent: agent.id, user: Object.freeze({ issuer: userIssuer, subject: payload.sub }), tokenId: payload.jti, expiresAt: payload.exp, scope });
    }
    const agent = agentOf(payload.sub);
    return Object.freeze({ agent: agent.id, user: null, tokenId: payload.jti, expiresAt: payload.exp, scope });
  }

  async function verifySelfSigned(token: string, iss: string, maxLifetimeSec: number, audience?: string[]): Promise<{ agent: RegisteredAgent; payload: JWTPayload & { exp: number; jti: string } }> {
    const agent = agentOf(iss, 'issuer');
    const payload = await verifyWith(token, agent.publicKey, agent.id, agent.id, maxLifetimeSec, audience);
    return { agent, payload };
  }

  return {
    async verify(token: string): Promise<Principal> {
      checkLength(token);
      const key = createHash('sha256').update(token).digest('base64url');
      const hit = cache.get(key);
      if (hit !== undefined && options.registry.get(hit.principal.agent) !== hit.agent) cache.delete(key);
      else if (hit !== undefined) {
        if (now() / 1000 < hit.principal.expiresAt + options.clockToleranceSec) return hit.principal;
        cache.delete(key);
        throw tokenFault('expired', 'token has expired');
      }
      const { iss, typ } = preflight(token);
      let principal: Principal;
      if (options.issued !== undefined && iss === options.issued.issuer) {
        expectType(typ, [ACCESS_TOKEN_JWT_TYPE], ACCESS_TOKEN_JWT_TYPE);
        principal = await verifyIssued(token);
      } else {
        // An assertion (typ client-authentication+jwt) is single-use at the token endpoint; accepted
        // here it could be replayed as a bearer token for its whole life.
        expectType(typ, BEARER_JWT_TYPES, '"JWT" or none');
        const { agent, payload } = await verifySelfSigned(token, iss, options.maxLifetimeSec);
        principal = Object.freeze({ agent: agent.id, user: null, tokenId: payload.jti, expiresAt: payload.exp, scope: null });
      }
      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      const agent = options.registry.get(principal.agent);
      if (agent !== undefined) cache.set(key, { principal, agent });
      return principal;
    },

    async verifyAssertion(token: string): Promise<RegisteredAgent> {
      const assertions = options.assertions;
      if (assertions === undefined) throw tokenFault('malformed', 'assertions are not accepted here');
      const { iss, typ } = preflight(token);
      // Only what was signed as an assertion is one: a bearer token someone holds (a log, a proxy,
      // a sandbox) must not buy a fresh 15-minute token or act as its agent in an exchange.
      expectType(typ, [ASSERTION_JWT_TYPE], ASSERTION_JWT_TYPE);
      const audiences = [options.audience, ...(assertions.endpointAudiences?.() ?? [])];
      const { agent, payload } = await verifySelfSigned(token, iss, assertions.maxLifetimeSec, audiences);
      // Single use: the jti is remembered (per agent) until the assertion expires.
      if (!assertions.replay.firstUse(`${agent.id}\u0000${payload.jti}`, payload.exp + options.clockToleranceSec)) {
        throw tokenFault('replayed', 'this assertion was already used; sign a new one with a fresh jti');
      }
      return agent;
    },
  };
}

