/**
 * Credentials recognised by their shape, redacted whether or not Cordon knows their value:
 * private keys (PEM), cloud access key ids, GitHub tokens, JWTs, and the value of an
 * Authorization header. Every pattern is linear: character classes that cannot overlap their
 * neighbours, and no nested repetition, so hostile output cannot make redaction slow.
 */
const SHAPES: readonly (readonly [RegExp, (match: string, ...groups: string[]) => string])[] = [
  // AWS access key ids (long-term AKIA, temporary ASIA).
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, () => '[REDACTED aws-access-key-id]'],
  // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained (github_pat_).
  [/\bgh[pousr]_[A-Za-z0-9]{36,255}\b/g, () => '[REDACTED github-token]'],
  [/\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g, () => '[REDACTED github-token]'],
  // JWTs: three base64url parts, the first two JSON objects ("eyJ" is base64 of '{"').
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, () => '[REDACTED jwt]'],
  // An Authorization header's credential, in a header dump or a log line.
  // (A quote may close the name and open the value: a JSON log line.)
  [/\b((?:proxy-)?authorization)("?[ \t]*[:=][ \t]*"?)((?:bearer|basic|token|digest)[ \t]+)?[^\s"',;]{4,}/gi, (_m, name: string, sep: string, scheme = '') => `${name}${sep}${scheme}[REDACTED]`],
];

const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]{0,40})PRIVATE KEY-----/g;

/**
 * PEM private key blocks, BEGIN through its END. Scanned with indexOf rather than a lazy
 * `[\s\S]*?`, which would rescan the rest of the text for every BEGIN without an END.
 */
function redactPem(text: string): string {
  if (!text.includes('PRIVATE KEY-----')) return text;
  let out = '';
  let at = 0;
  PEM_BEGIN.lastIndex = 0;
  for (let m = PEM_BEGIN.exec(text); m !== null; m = PEM_BEGIN.exec(text)) {
    const endMarker = `-----END ${m[1] ?? ''}PRIVATE KEY-----`;
    const end = text.indexOf(endMarker, m.index);
    out += text.slice(at, m.index) + '[REDACTED private key]';
    // No END: the rest is a key cut short; it goes too.
    at = end === -1 ? text.length : end + endMarker.length;
    if (end === -1) break;
    PEM_BEGIN.lastIndex = at;
  }
  return out + text.slice(at);
}

export function redactCredentialShapes(text: string): string {
  let out = redactPem(text);
  for (const [pattern, replace] of SHAPES) out = out.replace(pattern, replace as (substring: string, ...args: unknown[]) => string);
  return out;
}
