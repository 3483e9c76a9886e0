import { errors as joseErrors } from 'jose';
import { CordonError } from '../core/errors.ts';

/** Why a token was refused: stable strings, sent as `details.reason`. */
export type TokenFault =
  | 'malformed'
  | 'algorithm_not_allowed'
  | 'unknown_agent'
  | 'unknown_issuer'
  | 'bad_signature'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'missing_claim'
  | 'issuer_mismatch'
  | 'replayed'
  /** The `typ` header says the token is for something else (a bearer token as an assertion, or back). */
  | 'wrong_type';

export function tokenFault(reason: TokenFault, message: string, cause?: unknown): CordonError {
  return new CordonError('AUTH_INVALID_TOKEN', message, { cause, details: { reason } });
}

/** jose's errors → Cordon's stable reasons. */
export function mapJoseError(err: unknown): CordonError {
  if (err instanceof CordonError) return err;
  if (err instanceof joseErrors.JWTExpired) {
    // jose reports both "exp passed" and "older than maxTokenAge" as expired.
    return tokenFault('expired', 'token has expired', err);
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return tokenFault('missing_claim', `token has no "${err.claim}" claim`, err);
    switch (err.claim) {
      case 'aud':
        return tokenFault('wrong_audience', 'token audience is not this Cordon instance', err);
      case 'nbf':
      case 'iat':
        return tokenFault('not_yet_valid', 'token is not yet valid', err);
      case 'typ':
        return tokenFault('wrong_type', 'token "typ" header is not the type expected here', err);
      case 'iss':
      case 'sub':
        return tokenFault('issuer_mismatch', 'token "iss" and "sub" do not name the expected principal', err);
      default:
        return tokenFault('malformed', `token claim "${err.claim}" is invalid`, err);
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return tokenFault('bad_signature', 'token signature does not verify', err);
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return tokenFault('algorithm_not_allowed', 'token algorithm is not allowed', err);
  if (err instanceof joseErrors.JWKSNoMatchingKey) return tokenFault('bad_signature', 'no key of the issuer matches the token', err);
  if (err instanceof joseErrors.JWKSTimeout) return new CordonError('UNAVAILABLE', 'the identity provider did not answer in time', { cause: err });
  return tokenFault('malformed', 'token is not a well-formed JWT', err);
}
