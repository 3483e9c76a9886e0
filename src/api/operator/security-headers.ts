/**
 * Sent on every operator response, errors and 404s included: the approvals page runs only its
 * own files (no inline script or style, nothing from elsewhere), cannot be framed (no
 * clickjacking of Approve), and leaks no URL (a login link's) through Referer.
 */
export const OPERATOR_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const OPERATOR_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': OPERATOR_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});
