// RFC 8785 (JSON Canonicalization Scheme), the same bytes as src/audit/canonical-json.ts: object
// keys sorted by UTF-16 code units, no whitespace, strings and numbers as ECMAScript's JSON
// serialises them. Used by the approvals page to recompute the invocation hash it shows and to
// build the bytes it signs; test/api/operator-canonical-json.test.ts holds the two to the same output.

/** @param {unknown} value @returns {string} */
export function canonicalJson(value) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no form for NaN or Infinity');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((v) => canonicalJson(v === undefined ? null : v)).join(',') + ']';
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return '{' + entries.map(([k, v]) => JSON.stringify(k) + ':' + canonicalJson(v)).join(',') + '}';
    }
    default:
      throw new TypeError('canonical JSON has no form for a ' + typeof value);
  }
}

/** The context line of src/approvals/approval-types.ts: a decision signature is never anything else. */
export const DECISION_SIGNING_CONTEXT = 'cordon-approval-decision/v1\n';

/** @param {Record<string, unknown>} statement @returns {Uint8Array} */
export function decisionSigningInput(statement) {
  return new TextEncoder().encode(DECISION_SIGNING_CONTEXT + canonicalJson(statement));
}

/** @param {ArrayBuffer | Uint8Array} bytes @returns {string} */
export function base64url(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Lower-case hex SHA-256 of the canonical JSON of `value`. @returns {Promise<string>} */
export async function canonicalHash(value) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonicalJson(value)));
  return Array.from(new Uint8Array(digest), (x) => x.toString(16).padStart(2, '0')).join('');
}
