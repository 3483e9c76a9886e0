import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EgressIdentity } from './egress-identity.ts';

/**
 * Per-sandbox proxy credentials for the loopback TCP channel (browsers cannot
 * use a unix socket). The credential *is* the channel: user = sandbox id,
 * password = a random secret only that sandbox's browser was given. Only the
 * hash of the secret is kept.
 */
export interface ProxyCredentials {
  issue(identity: EgressIdentity): { username: string; password: string };
  revoke(sandboxId: string): void;
  /** The identity a Proxy-Authorization header proves, or null. */
  verify(header: string | undefined): EgressIdentity | null;
}

export function createProxyCredentials(): ProxyCredentials {
  const entries = new Map<string, { hash: Buffer; identity: EgressIdentity }>();
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return {
    issue(identity) {
      const password = randomBytes(32).toString('base64url');
      entries.set(identity.id, { hash: digest(password), identity });
      return { username: identity.id, password };
    },
    revoke: (id) => void entries.delete(id),
    verify(header) {
      if (header === undefined) return null;
      const m = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
      if (m === null) return null;
      const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return null;
      const entry = entries.get(decoded.slice(0, colon));
      // Hash first so the comparison is constant-time and the same length.
      const given = digest(decoded.slice(colon + 1));
      if (entry === undefined) {
        timingSafeEqual(given, given);
        return null;
      }
      return timingSafeEqual(given, entry.hash) ? entry.identity : null;
    },
  };
}
