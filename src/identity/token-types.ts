/**
 * What a JWT is for, from its `typ` header. The three kinds Cordon accepts are
 * signed by different keys or with different claims, but a kind is never
 * inferred from them: a short-lived agent token with the instance audience
 * used to pass as a bearer token and as a client assertion alike. Each
 * verifier now demands its own type and refuses the others.
 */

/** A single-use client assertion (client_assertion, actor_token): draft-ietf-oauth-rfc7523bis explicit typing. */
export const ASSERTION_JWT_TYPE = 'client-authentication+jwt';
/** An access token Cordon issued (RFC 9068). */
export const ACCESS_TOKEN_JWT_TYPE = 'at+jwt';
/** An agent's self-signed bearer token: `typ: JWT` or no `typ` at all (RFC 7519 §5.1). */
export const BEARER_JWT_TYPES: readonly (string | undefined)[] = [undefined, 'jwt'];

/**
 * `typ` as RFC 7515 §4.1.9 compares it: case-insensitive, with `application/` implied.
 * Anything that is not a string is returned as-is, so it matches no known type.
 */
export function normaliseJwtType(typ: unknown): unknown {
  if (typeof typ !== 'string') return typ;
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}
