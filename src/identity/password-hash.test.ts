import { describe, expect, it } from 'vitest';
import { CordonError } from '../core/errors.ts';
import { hashPassword, parseScryptHash, verifyPassword } from './password-hash.ts';

describe('operator password hashes', () => {
  it('hashes with a fresh salt each time, and verifies only the right password', async () => {
    const a = await hashPassword('a long enough password');
    const b = await hashPassword('a long enough password');
    expect(a).not.toBe(b);
    expect(await verifyPassword('a long enough password', parseScryptHash(a, 't'))).toBe(true);
    expect(await verifyPassword('a long enough passworD', parseScryptHash(a, 't'))).toBe(false);
  });

  it('refuses an over-long password after doing the same work', async () => {
    const stored = parseScryptHash(await hashPassword('x'.repeat(1024)), 't');
    expect(await verifyPassword('x'.repeat(1024), stored)).toBe(true);
    expect(await verifyPassword('x'.repeat(1025), stored)).toBe(false);
  });

  it.each([
    ['not scrypt', 'bcrypt$2b$10$abc'],
    ['too few parts', 'scrypt$16384$8$1$c2FsdA=='],
    ['N not a power of two', `scrypt$20000$8$1$${'A'.repeat(24)}$${'A'.repeat(44)}`],
    ['N too small', `scrypt$1024$8$1$${'A'.repeat(24)}$${'A'.repeat(44)}`],
    ['N so large one login eats the machine', `scrypt$${2 ** 24}$8$1$${'A'.repeat(24)}$${'A'.repeat(44)}`],
    ['N and r that need 4 GiB per attempt', `scrypt$${2 ** 20}$32$1$${'A'.repeat(24)}$${'A'.repeat(44)}`],
    ['p too large', `scrypt$16384$8$64$${'A'.repeat(24)}$${'A'.repeat(44)}`],
    ['r not a number', `scrypt$16384$x$1$${'A'.repeat(24)}$${'A'.repeat(44)}`],
    ['salt too short', `scrypt$16384$8$1$c2FsdA==$${'A'.repeat(44)}`],
    ['hash too short', `scrypt$16384$8$1$${'A'.repeat(24)}$AAAA`],
  ])('refuses a stored hash with %s, saying how to make one', (_, text) => {
    let err: unknown;
    try {
      parseScryptHash(text, 'approvals.approvers[ana]');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).code).toBe('CONFIG_INVALID');
    expect((err as CordonError).message).toMatch(/^approvals\.approvers\[ana\]: .*cordon approvals hash-password$/);
  });
});
