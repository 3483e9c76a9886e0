import { CordonError } from '../core/errors.ts';

import type { SessionFactsSink, SessionFactsSnapshot } from '../core/session-facts.ts';

export type { SessionFactsSink, SessionFactsSnapshot };

export interface Session {
  readonly key: string;
  facts(): SessionFactsSnapshot;
  readonly sink: SessionFactsSink;
  /** Counts a call that ran. */
  countCall(): void;
}

export interface SessionStore {
  /**
   * The session for this principal and id. Sessions are keyed by agent and user
   * as well as the id, so one agent can never read or poison another's facts by
   * naming its session. No id: a session of one call.
   */
  open(agent: string, user: string | null, sessionId: string | null): Session;
  readonly size: number;
}

const MAX_EGRESS_HOSTS = 256;

export function createSessionStore(options: { maxSessions: number; idleTtlMs: number; now?: () => number }): SessionStore {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, { state: MutableFacts; lastUsed: number }>();

  interface MutableFacts {
    untrusted_content: boolean;
    sensitive_read: boolean;
    egress_hosts: string[];
    calls: number;
  }

  const make = (key: string, state: MutableFacts): Session => ({
    key,
    facts: () => Object.freeze({ ...state, egress_hosts: Object.freeze([...state.egress_hosts]) }),
    countCall: () => {
      state.calls++;
    },
    sink: {
      noteUntrustedContent: () => {
        state.untrusted_content = true;
      },
      noteSensitiveRead: () => {
        state.sensitive_read = true;
      },
      noteEgressHost: (host) => {
        if (!state.egress_hosts.includes(host) && state.egress_hosts.length < MAX_EGRESS_HOSTS) state.egress_hosts.push(host);
      },
    },
  });

  const fresh = (): MutableFacts => ({ untrusted_content: false, sensitive_read: false, egress_hosts: [], calls: 0 });

  return {
    get size() {
      return sessions.size;
    },
    open(agent, user, sessionId) {
      if (sessionId === null) return make('', fresh());
      const key = JSON.stringify([agent, user, sessionId]);
      const t = now();
      let entry = sessions.get(key);
      if (entry !== undefined && t - entry.lastUsed > options.idleTtlMs) {
        sessions.delete(key);
        entry = undefined;
      }
      if (entry === undefined) {
        if (sessions.size >= options.maxSessions) {
          for (const [k, e] of sessions) if (t - e.lastUsed > options.idleTtlMs) sessions.delete(k);
        }
        if (sessions.size >= options.maxSessions) {
          // Never evict a live session: forgetting its facts (a sensitive read, say) would let an
          // agent wipe them by opening many sessions. Refuse new ones instead.
          throw new CordonError('RATE_LIMITED', `too many open sessions (${options.maxSessions}); reuse a session or wait for idle ones to expire`, { details: { retryAfterSec: 60 } });
        }
        entry = { state: fresh(), lastUsed: t };
      } else {
        sessions.delete(key);
        entry.lastUsed = t;
      }
      sessions.set(key, entry);
      return make(key, entry.state);
    },
  };
}
