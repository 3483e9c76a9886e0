import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Web sessions and one-time login links, held in memory (a restart logs everyone out).
 * Only a SHA-256 of each secret is kept: a heap dump or a debug log of the maps holds
 * nothing a browser could present.
 */
export interface OperatorSession {
  readonly approver: string;
  readonly csrfToken: string;
  readonly expiresAtMs: number;
}

export interface OperatorSessions {
  /** A new session: the cookie value (returned once, never stored) and its CSRF token. */
  create(approver: string): { id: string; session: OperatorSession };
  get(id: string): OperatorSession | undefined;
  delete(id: string): void;
  /** A single-use login link token for `approver`. */
  createLink(approver: string): { token: string; expiresAtMs: number };
  /** The approver a link token was made for, once; undefined if unknown, used or expired. */
  redeemLink(token: string): string | undefined;
}

export interface OperatorSessionsOptions {
  sessionTtlMs: number;
  linkTtlMs: number;
  maxSessions: number;
  now?: () => number;
}

const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url');
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function createOperatorSessions(options: OperatorSessionsOptions): OperatorSessions {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, OperatorSession>();
  const links = new Map<string, { approver: string; expiresAtMs: number }>();

  const sweep = () => {
    const t = now();
    for (const [k, s] of sessions) if (s.expiresAtMs <= t) sessions.delete(k);
    for (const [k, l] of links) if (l.expiresAtMs <= t) links.delete(k);
  };

  return {
    create(approver) {
      sweep();
      // Full of live sessions: the oldest goes (its operator logs in again) rather than refusing everyone.
      while (sessions.size >= options.maxSessions) {
        const oldest = sessions.keys().next().value;
        if (oldest === undefined) break;
        sessions.delete(oldest);
      }
      const id = randomBytes(32).toString('base64url');
      const session = Object.freeze({ approver, csrfToken: randomBytes(32).toString('base64url'), expiresAtMs: now() + options.sessionTtlMs });
      sessions.set(digest(id), session);
      return { id, session };
    },
    get(id) {
      if (!SECRET_PATTERN.test(id)) return undefined;
      const key = digest(id);
      const s = sessions.get(key);
      if (s === undefined) return undefined;
      if (s.expiresAtMs <= now()) {
        sessions.delete(key);
        return undefined;
      }
      return s;
    },
    delete(id) {
      if (SECRET_PATTERN.test(id)) sessions.delete(digest(id));
    },
    createLink(approver) {
      sweep();
      if (links.size >= options.maxSessions) links.delete(links.keys().next().value as string);
      const token = randomBytes(32).toString('base64url');
      const expiresAtMs = now() + options.linkTtlMs;
      links.set(digest(token), { approver, expiresAtMs });
      return { token, expiresAtMs };
    },
    redeemLink(token) {
      if (!SECRET_PATTERN.test(token)) return undefined;
      const key = digest(token);
      const link = links.get(key);
      // Deleted before anything else: two redemptions racing get one session between them.
      links.delete(key);
      if (link === undefined || link.expiresAtMs <= now()) return undefined;
      return link.approver;
    },
  };
}

/** Constant-time string comparison for tokens of public length. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
