import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { SANDBOX_TOKEN_AUDIENCE, signSandboxToken } from './sandbox-token.ts';
import { loadOrCreateSigningKey } from './signing-keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'cordon-sbx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sandbox token', () => {
  const identity = { id: 'sbx_1', uri: 'spiffe://cordon.local/sandbox/isolate-default/sbx_1', agent: 'coder', user: 'alice', egressPolicy: 'github', expiresAt: Math.floor(Date.now() / 1000) + 60 };

  it('is an EdDSA JWT for audience cordon-egress naming the sandbox, expiring with it', async () => {
    const key = loadOrCreateSigningKey(dir, 'sandbox');
    const token = await signSandboxToken(key, 'cordon', identity);
    const { payload, protectedHeader } = await jwtVerify(token, key.publicKey, { audience: SANDBOX_TOKEN_AUDIENCE, issuer: 'cordon', algorithms: ['EdDSA'] });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload).toMatchObject({ sub: identity.uri, sandbox: 'sbx_1', agent: 'coder', user: 'alice', egress_policy: 'github', exp: identity.expiresAt });
  });

  it('does not verify with another purpose key', async () => {
    const token = await signSandboxToken(loadOrCreateSigningKey(dir, 'sandbox'), 'cordon', identity);
    await expect(jwtVerify(token, loadOrCreateSigningKey(dir, 'issuer').publicKey)).rejects.toThrow();
  });

  it('keeps the key file private (0600) and reuses it', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(join(dir, 'keys', 'sandbox.key')).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSigningKey(dir, 'sandbox').kid).toBe(loadOrCreateSigningKey(dir, 'sandbox').kid);
  });
});
