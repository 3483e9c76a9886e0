/**
 * An operator's password as config stores it: `scrypt$N$r$p$<salt>$<hash>`, salt and hash in
 * standard base64. Only the parameters are checked here (at load); the web login derives the
 * key with node:crypto's scrypt from these values and compares in constant time.
 */
export interface PasswordScrypt {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

// Below 2^14 a guess costs too little. scrypt needs about 128·N·r bytes, and up to four login
// attempts run at once on libuv's pool: 256 MiB each keeps a burst of them from taking the
// machine's memory. The salt and hash bounds refuse truncated or pasted-wrong values.
const MIN_LOG2_N = 14;
const MAX_LOG2_N = 20;
export const MAX_SCRYPT_MEMORY_BYTES = 256 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The parsed value, or a reason it is refused (for the config error). */
export function parsePasswordScrypt(text: string): PasswordScrypt | string {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return 'must be scrypt$N$r$p$<salt base64>$<hash base64>';
  const [, nText = '', rText = '', pText = '', saltText = '', hashText = ''] = parts;
  const int = (t: string) => (/^[1-9][0-9]{0,7}$/.test(t) ? Number(t) : NaN);
  const N = int(nText);
  const r = int(rText);
  const p = int(pText);
  const log2N = Math.log2(N);
  if (!Number.isInteger(log2N) || log2N < MIN_LOG2_N || log2N > MAX_LOG2_N) return `N must be a power of two from 2^${MIN_LOG2_N} to 2^${MAX_LOG2_N}`;
  if (!(r >= 1 && r <= 32)) return 'r must be an integer from 1 to 32';
  if (!(p >= 1 && p <= 4)) return 'p must be an integer from 1 to 4';
  if (128 * N * r > MAX_SCRYPT_MEMORY_BYTES) return `N and r together need ${Math.round((128 * N * r) / 2 ** 20)} MiB per attempt; at most ${MAX_SCRYPT_MEMORY_BYTES / 2 ** 20} MiB (lower N or r)`;
  const salt = base64(saltText);
  const hash = base64(hashText);
  if (salt === null || salt.length < 16 || salt.length > 64) return 'the salt must be 16 to 64 bytes of base64';
  if (hash === null || hash.length < 32 || hash.length > 64) return 'the hash must be 32 to 64 bytes of base64';
  return Object.freeze({ N, r, p, salt, hash });
}

/** Strict base64: decodes, and encodes back to the same text (Node's decoder skips junk silently). */
function base64(text: string): Buffer | null {
  if (!BASE64.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === text.replace(/=+$/, '') ? bytes : null;
}
