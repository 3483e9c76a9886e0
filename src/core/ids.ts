import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A sortable, unguessable id: `<prefix>_<10 chars of ms time><16 chars random>`.
 * Sortable so audit records and logs line up; random so ids cannot be predicted.
 */
export function newId(prefix: string): string {
  let time = Date.now();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[time % 32] + head;
    time = Math.floor(time / 32);
  }
  const bytes = randomBytes(16);
  let tail = '';
  for (const b of bytes) tail += ALPHABET[b & 31];
  return `${prefix}_${head}${tail}`;
}
