import { describe, expect, it } from 'vitest';
import { testIdentity } from '../../test/support/loopback-fixture.ts';
import { createProxyCredentials } from './proxy-auth.ts';

describe('proxy credentials', () => {
  it('proves exactly one sandbox', () => {
    const creds = createProxyCredentials();
    const a = creds.issue(testIdentity('a', 'p'));
    const b = creds.issue(testIdentity('b', 'p'));
    const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    expect(creds.verify(basic(a.username, a.password))?.id).toBe('a');
    expect(creds.verify(basic(b.username, a.password))).toBeNull();
    expect(creds.verify(basic(a.username, ''))).toBeNull();
    expect(creds.verify(undefined)).toBeNull();
    expect(creds.verify('Bearer x')).toBeNull();
    creds.revoke('a');
    expect(creds.verify(basic(a.username, a.password))).toBeNull();
  });
});
