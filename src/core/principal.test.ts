import { describe, expect, it } from 'vitest';
import { LOCAL_USER_ISSUER, parseUserRef, userKey } from './principal.ts';

describe('user identity: (issuer, subject)', () => {
  it('gives two issuers’ users of the same subject different keys', () => {
    expect(userKey({ issuer: 'https://a.test/', subject: 'alice' })).not.toBe(userKey({ issuer: 'https://b.test/', subject: 'alice' }));
    expect(userKey({ issuer: 'https://a.test/', subject: 'alice' })).toBe('https://a.test/#alice');
  });

  it.each([
    ['https://a.test/#alice'],
    ['https://a.test/#frag#alice@example.test'],
    [`${LOCAL_USER_ISSUER}#bob`],
  ])('parses its own key back: %s', (key) => {
    const ref = parseUserRef(key);
    expect(ref).not.toBeNull();
    expect(userKey(ref!)).toBe(key);
  });

  it('reads a bare subject as a local user, and refuses an empty part', () => {
    expect(parseUserRef('alice')).toEqual({ issuer: LOCAL_USER_ISSUER, subject: 'alice' });
    expect(parseUserRef('')).toBeNull();
    expect(parseUserRef('#alice')).toBeNull();
    expect(parseUserRef('https://a.test/#')).toBeNull();
  });
});
