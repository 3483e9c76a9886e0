import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TEST_TLS_NAMES, testTls } from './test-tls.ts';

describe('test TLS material', () => {
  it('is made once per process, and the server certificate chains to the CA for every test name and 127.0.0.1', () => {
    const tls = testTls();
    expect(testTls()).toBe(tls);
    const ca = new X509Certificate(tls.ca);
    const cert = new X509Certificate(tls.cert);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
    for (const name of TEST_TLS_NAMES) expect(cert.checkHost(name)).toBe(name);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('evil.test')).toBeUndefined();
    expect(cert.checkPrivateKey(createPrivateKey(tls.key))).toBe(true);
  });
});
