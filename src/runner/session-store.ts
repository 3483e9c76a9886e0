import { CordonError } from '../core/errors.ts';

import type { SessionFactsSink, SessionFactsSnapshot } from '../core/session-facts.ts';

export type { SessionFactsSink, SessionFactsSnapshot };

export interface Session {
  readonly key: string;
  facts(): SessionFactsSnapshot;
  readonly sink: SessionFactsSink;
  /** Counts a call that ran. */
  countCall(): void;
  /** Changes whenever the facts do: a decision made on an older version must be made again. */
  version(): number;
}

/** A session's facts as they are now, without opening it (nothing is stored). */
export interface SessionPeek {
  readonly facts: SessionFactsSnapshot;
  readonly version: number;
}

export interface SessionStore {
  /**
   * The session for this principal and id. Sessions are keyed by agent and user
   * as well as the id, so one agent can never read or poison another's facts by
   * naming its session. No id: a session of one call. Opening a new one counts
   * against the store's and the agent's quota (RATE_LIMITED, details.quota).
   */
  open(agent: string, user: string | null, sessionId: string | null): Session;
  /**
   * The facts a call would be decided on, without creating anything: a call is
   * authorized on these first and opens its session only once allowed, so denied
   * calls cannot fill the table.
   */
  peek(agent: string, user: string | null, sessionId: string | null): SessionPeek;
  readonly size: number;
}

export interface SessionStoreOptions {
  /** Live sessions in all. */
  readonly maxSessions: number;
  /** Live sessions of one agent, across the users it acts for: its share. */
  readonly maxSessionsPerAgent: number;
  readonly idleTtlMs: number;
  readonly now?: () => number;
}

const MAX_EGRESS_HOSTS = 256;

interface MutableFacts {
  untrusted_content: boolean;
  sensitive_read: boolean;
  egress_hosts: string[];
  calls: number;
  /** 0 while the facts are fresh; else a value no other state ever had (see `changed`). */
  version: number;
}

interface Entry {
  readonly agent: string;
  readonly state: MutableFacts;
  lastUsed: number;
}

const fresh = (): MutableFacts => ({ untrusted_content: false, sensitive_read: false, egress_hosts: [], calls: 0, version: 0 });
const snapshot = (state: MutableFacts): SessionFactsSnapshot =>
  Object.freeze({ untrusted_content: state.untrusted_content, sensitive_read: state.sensitive_read, egress_hosts: Object.freeze([...state.egress_hosts]), calls: state.calls });

export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, Entry>();
  const perAgent = new Map<string, number>();
  // One clock for every session: a version seen once is never seen again on other facts,
  // even if the session expired and was opened afresh meanwhile.
  let clock = 0;
  const changed = (state: MutableFacts) => {
    state.version = ++clock;
  };

  const make = (key: string, state: MutableFacts): Session => ({
    key,
    facts: () => snapshot(state),
    version: () => state.version,
    countCall: () => {
      state.calls++;
      changed(state);
    },
    sink: {
      noteUntrustedContent: () => {
        if (state.untrusted_content) return;
        state.untrusted_content = true;
        changed(state);
      },
      noteSensitiveRead: () => {
        if (state.sensitive_read) return;
        state.sensitive_read = true;
        changed(state);
      },
      noteEgressHost: (host) => {
        if (!state.egress_hosts.includes(host) && state.egress_hosts.length < MAX_EGRESS_HOSTS) {
          state.egress_hosts.push(host);
          changed(state);
        }
      },
    },
  });

  const keyOf = (agent: string, user: string | null, sessionId: string): string => JSON.stringify([agent, user, sessionId]);

  const drop = (key: string, entry: Entry) => {
    sessions.delete(key);
    const n = (perAgent.get(entry.agent) ?? 1) - 1;
    if (n <= 0) perAgent.delete(entry.agent);
    else perAgent.set(entry.agent, n);
  };

  /** The live entry for a key, dropping it if it has been idle too long. */
  const live = (key: string, t: number): Entry | undefined => {
    const entry = sessions.get(key);
    if (entry !== undefined && t - entry.lastUsed > options.idleTtlMs) {
      drop(key, entry);
      return undefined;
    }
    return entry;
  };

  const sweepIdle = (t: number) => {
    for (const [k, e] of sessions) if (t - e.lastUsed > options.idleTtlMs) drop(k, e);
  };

  return {
    get size() {
      return sessions.size;
    },
    peek(agent, user, sessionId) {
      if (sessionId === null) return { facts: snapshot(fresh()), version: 0 };
      const entry = live(keyOf(agent, user, sessionId), now());
      const state = entry?.state ?? fresh();
      return { facts: snapshot(state), version: state.version };
    },
    open(agent, user, sessionId) {
      if (sessionId === null) return make('', fresh());
      const key = keyOf(agent, user, sessionId);
      const t = now();
      let entry = live(key, t);
      if (entry === undefined) {
        if (sessions.size >= options.maxSessions || (perAgent.get(agent) ?? 0) >= options.maxSessionsPerAgent) sweepIdle(t);
        // Never evict a live session: forgetting its facts (a sensitive read, say) would let an
        // agent wipe them by opening many sessions. Refuse new ones instead.
        const mine = perAgent.get(agent) ?? 0;
        if (mine >= options.maxSessionsPerAgent) {
          throw new CordonError('RATE_LIMITED', `agent ${agent} already has ${mine} open sessions, its share (sessions.maxOpenPerAgent); reuse a session id, or wait for idle ones to expire`, {
            details: { quota: 'agent_sessions', retryAfterSec: 60 },
          });
        }
        if (sessions.size >= options.maxSessions) {
          throw new CordonError('RATE_LIMITED', `too many open sessions in all (${options.maxSessions}, sessions.maxOpen); reuse a session id, or wait for idle ones to expire`, {
            details: { quota: 'sessions', retryAfterSec: 60 },
          });
        }
        entry = { agent, state: fresh(), lastUsed: t };
        perAgent.set(agent, mine + 1);
      } else {
        // Re-inserted below: the map's order stays least recently used first.
        sessions.delete(key);
        entry.lastUsed = t;
      }
      sessions.set(key, entry);
      return make(key, entry.state);
    },
  };
}
