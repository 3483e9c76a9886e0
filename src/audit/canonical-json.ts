/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values an audit record holds: object keys
 * sorted by UTF-16 code units, no whitespace, numbers and strings as ECMAScript's JSON
 * serialises them (which is what RFC 8785 specifies). Keys whose value is undefined are left
 * out, as JSON.stringify leaves them out of the line that is written.
 *
 * This runs for every record appended and every record verified: it is written as loops and
 * string concatenation (no entries/map/join arrays), and a key made only of characters JSON
 * never escapes is written as it is rather than through JSON.stringify. slowCanonicalJson is
 * the plain definition; canonical-json.test.ts holds the two equal.
 */
export function canonicalJson(value: unknown): string {
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
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i] === undefined ? null : value[i]);
        return out + ']';
      }
      const object = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, as RFC 8785's rule for sorting properties asks.
      const keys = Object.keys(object).sort();
      let out = '{';
      for (const k of keys) {
        const v = object[k];
        if (v === undefined) continue;
        out += (out.length === 1 ? '' : ',') + (PLAIN_KEY.test(k) ? `"${k}"` : JSON.stringify(k)) + ':' + canonicalJson(v);
      }
      return out + '}';
    }
    default:
      throw new TypeError(`canonical JSON has no form for a ${typeof value}`);
  }
}

/** Characters JSON.stringify writes as they are (no quote, backslash, control or surrogate). */
const PLAIN_KEY = /^[-A-Za-z0-9_$.]*$/;
