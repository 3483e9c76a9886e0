import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { parsePasswordScrypt, type PasswordScrypt } from '../config/password-scrypt.ts';
import { CordonError } from '../core/errors.ts';

/**
 * Operator passwords: `scrypt$N$r$p$<salt base64>$<hash base64>` (parsed and bounded once, in
 * config/password-scrypt.ts). The cost is in the string so it can rise later without breaking
 * stored hashes.
 */
export type ScryptHash = PasswordScrypt;

export const DEFAULT_SCRYPT = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
const MAX_PASSWORD_BYTES = 1024;

function scrypt(password: Buffer, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((done, fail) => scryptCb(password, salt, keyLength, options, (err, key) => (err === null ? done(key) : fail(err))));
}

const memoryFor = (h: { N: number; r: number; p: number }) => 128 * h.N * h.r + 128 * h.r * h.p + 1024 * 1024;

export function parseScryptHash(text: string, source: string): ScryptHash {
  const parsed = parsePasswordScrypt(text);
  if (typeof parsed === 'string') throw new CordonError('CONFIG_INVALID', `${source}: passwordScrypt ${parsed}; make one with: cordon approvals hash-password`, { details: { source } });
  return parsed;
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
