import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

export interface TestIssuer {
  issuer: string;
  jwksUrl: string;
  /** Signs a user token as this issuer; claims override the defaults. */
  token(sub: string, claims?: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** A minimal OIDC issuer on loopback: an RS256 key published as JWKS, generated at test time. */
export async function startTestIssuer(audience = 'cordon'): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer: `${base}/`,
    jwksUrl: `${base}/jwks.json`,
    async token(sub, claims = {}, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: `${base}/`, sub, aud: audience, iat: now, exp: now + 600, jti: randomUUID(), ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key', ...header })
        .sign(privateKey as CryptoKey);
    },
    close: () => new Promise((done) => server.close(() => done())),
  };
}
