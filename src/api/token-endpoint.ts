import { OAUTH_ERRORS } from '../identity/token-service.ts';
import { renderError } from './error-renderer.ts';

/** application/x-www-form-urlencoded → parameters; a repeated name becomes a list (and is refused later). */
export function parseFormBody(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of new URLSearchParams(body)) {
    const prev = out[key];
    out[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return out;
}

/**
 * The token endpoint speaks OAuth (RFC 6749 §5.2): `{error, error_description}`,
 * which OAuth clients parse. Cordon's own error object rides along under `cordon`.
 */
export function renderOAuthError(err: unknown, requestId: string) {
  const rendered = renderError(err, requestId);
  const code = rendered.body.error.code;
  const oauth = OAUTH_ERRORS[code] ?? (rendered.status >= 500 ? 'server_error' : 'invalid_request');
  const headers: Record<string, string> = { ...rendered.headers, pragma: 'no-cache' };
  delete headers['www-authenticate'];
  if (oauth === 'invalid_client') headers['www-authenticate'] = 'Bearer error="invalid_client"';
  return {
    status: rendered.status,
    internal: rendered.internal,
    headers,
    body: { error: oauth, error_description: rendered.body.error.message, cordon: rendered.body.error },
  };
}

