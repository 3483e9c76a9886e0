import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { CordonError } from '../core/errors.ts';

/**
 * Operator passwords: `scrypt$N$r$p$<salt base64>$<hash base64>`. The cost is in the string so
 * it can rise later without breaking stored hashes; it is bounded so a config cannot make one
 * login attempt eat the machine.
 */
export interface ScryptHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export const DEFAULT_SCRYPT = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
const MAX_N = 2 ** 20;
const MAX_PASSWORD_BYTES = 1024;

function scrypt(password: Buffer, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((done, fail) => scryptCb(password, salt, keyLength, options, (err, key) => (err === null ? done(key) : fail(err))));
}

/** scrypt needs about 128·N·r bytes; the limit keeps one login attempt (of four at once on libuv's pool) small. */
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const memoryFor = (h: { N: number; r: number; p: number }) => 128 * h.N * h.r + 128 * h.r * h.p + 1024 * 1024;

export function parseScryptHash(text: string, source: string): ScryptHash {
  const parts = text.split('$');
  const bad = (why: string) => new CordonError('CONFIG_INVALID', `${source}: passwordScrypt ${why}; make one with: cordon approvals hash-password`, { details: { source } });
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw bad('is not scrypt$N$r$p$salt$hash');
  const [N, r, p] = parts.slice(1, 4).map((x) => (/^\d{1,8}$/.test(x ?? '') ? Number(x) : NaN)) as [number, number, number];
  if (!(N >= 2 ** 14 && N <= MAX_N && (N & (N - 1)) === 0)) throw bad(`has N ${parts[1]}; use a power of two from 16384 to ${MAX_N}`);
  if (!(r >= 1 && r <= 32 && p >= 1 && p <= 4)) throw bad('has r or p out of range (r 1..32, p 1..4)');
  if (128 * N * r > MAX_MEMORY_BYTES) throw bad(`needs ${Math.round((128 * N * r) / 2 ** 20)} MiB per attempt; at most ${MAX_MEMORY_BYTES / 2 ** 20} MiB (lower N or r)`);
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const hash = Buffer.from(parts[5] ?? '', 'base64');
  if (salt.length < 16 || hash.length < 32 || hash.length > 64) throw bad('needs a salt of at least 16 bytes and a hash of 32 to 64 bytes');
  return Object.freeze({ N, r, p, salt, hash });
}

export async function hashPassword(password: string, cost: { N: number; r: number; p: number } = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(Buffer.from(password, 'utf8'), salt, 32, { ...cost, maxmem: memoryFor(cost) });
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Always does the scrypt work, and compares in constant time; over-long passwords fail after it. */
export async function verifyPassword(password: string, stored: ScryptHash): Promise<boolean> {
  const bytes = Buffer.from(password, 'utf8');
  const tooLong = bytes.length > MAX_PASSWORD_BYTES;
  const key = await scrypt(tooLong ? bytes.subarray(0, MAX_PASSWORD_BYTES) : bytes, stored.salt, stored.hash.length, { N: stored.N, r: stored.r, p: stored.p, maxmem: memoryFor(stored) });
  return timingSafeEqual(key, stored.hash) && !tooLong;
}
