import { CordonError } from '../core/errors.ts';
import { principalUserKey, type Principal } from '../core/principal.ts';
import type { Sandbox, SandboxBackend, SandboxEgress } from './sandbox-backend.ts';
import { createSandboxIdentity, type SandboxIdentity } from './sandbox-identity.ts';
import type { SandboxProfile } from './profiles/index.ts';

/** Opens a sandbox's egress with it (bound to its identity); null: no network. */
export type OpenEgress = (identity: SandboxIdentity) => SandboxEgress | null;

export interface SandboxManagerOptions {
  readonly backends: ReadonlyMap<string, SandboxBackend>;
  readonly profiles: ReadonlyMap<string, SandboxProfile>;
  readonly trustDomain: string;
  /** Live session sandboxes in all; beyond this, RATE_LIMITED. */
  readonly maxSessions: number;
  /** Live session sandboxes of one agent, whoever it acts for. */
  readonly maxSessionsPerAgent: number;
  readonly now?: () => number;
}

export interface SessionSandboxInfo {
  readonly id: string;
  readonly profile: string;
  readonly identity: SandboxIdentity;
  /** Milliseconds since the epoch: the sooner of the idle and the hard deadline. */
  readonly expiresAt: number;
}

export interface SandboxManager {
  profile(name: string): SandboxProfile | undefined;
  profiles(): readonly SandboxProfile[];
  /** A fresh sandbox for one call: its identity now, the sandbox itself once the call may run. */
  forCall(principal: Principal, profile: SandboxProfile, egressPolicy: string | null, lifetimeMs: number): { identity: SandboxIdentity; start(open: OpenEgress): Promise<Sandbox> };
  createSession(principal: Principal, profile: SandboxProfile, egressPolicy: string | null, open: OpenEgress): Promise<SessionSandboxInfo>;
  /** The caller's live session sandbox; 404 for one that is unknown, ended, or someone else's. */
  session(principal: Principal, id: string): { sandbox: Sandbox; profile: SandboxProfile; info: SessionSandboxInfo };
  listSessions(principal: Principal): SessionSandboxInfo[];
  deleteSession(principal: Principal, id: string): void;
  stats(): { sessions: number };
  /** Sandboxes alive now per backend: session sandboxes, and per-call ones (made, not yet ended). */
  live(): Readonly<Record<string, { readonly session: number; readonly call: number }>>;
  close(): Promise<void>;
}

interface Entry {
  readonly sandbox: Sandbox;
  readonly profile: SandboxProfile;
  readonly createdAt: number;
  lastUsed: number;
}

const SWEEP_MS = 1000;

/**
 * Owns every sandbox's life: creates it (for one call, or for a session) from a
 * profile, opens its egress with it and closes it with it, looks session
 * sandboxes up for their owner only, and ends them after their idle TTL, their
 * hard TTL, a DELETE, or their backend's death.
 */
export function createSandboxManager(options: SandboxManagerOptions): SandboxManager {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, Entry>();
  /** Session sandboxes being made: counted against every quota until they are registered. */
  const creating = new Set<SandboxIdentity>();
  const profileList = Object.freeze([...options.profiles.values()]);
  /** Per-call sandboxes alive now, per backend: counted when made, uncounted when they end (onEnd fires once). */
  const callsLive = new Map<string, number>();

  const backendFor = (profile: SandboxProfile): SandboxBackend => {
    const backend = options.backends.get(profile.backend);
    if (backend === undefined) throw new CordonError('SANDBOX_UNAVAILABLE', `sandbox profile "${profile.name}" needs the ${profile.backend} backend, which is not running here`, { details: { profile: profile.name } });
    return backend;
  };

  const deadline = (e: Entry) => Math.min(e.lastUsed + e.profile.session.idleTtlMs, e.createdAt + e.profile.session.maxTtlMs);
  const info = (e: Entry): SessionSandboxInfo => ({ id: e.sandbox.identity.id, profile: e.profile.name, identity: e.sandbox.identity, expiresAt: deadline(e) });
  const owns = (principal: Principal, identity: SandboxIdentity) => identity.agent === principal.agent && identity.user === principalUserKey(principal);
  const notFound = (id: string) => new CordonError('SANDBOX_NOT_FOUND', `no live sandbox ${JSON.stringify(id.slice(0, 64))} of yours; it may have expired or been deleted (POST /v1/sandboxes makes one)`, { details: { sandbox: id.slice(0, 64) } });

  const end = (id: string) => {
    const e = sessions.get(id);
    if (e === undefined) return;
    sessions.delete(id);
    void e.sandbox.dispose();
  };

  const sweep = setInterval(() => {
    const t = now();
    for (const [id, e] of sessions) if (t >= deadline(e) || !e.sandbox.alive()) end(id);
  }, SWEEP_MS);
  sweep.unref();

  return {
    profile: (name) => options.profiles.get(name),
    profiles: () => profileList,

    forCall(principal, profile, egressPolicy, lifetimeMs) {
      const backend = backendFor(profile);
      const identity = createSandboxIdentity({ principal, profile: profile.name, backend: backend.kind, egressPolicy, trustDomain: options.trustDomain, lifetimeMs, now: now() });
      return {
        identity,
        async start(open) {
          const egress = open(identity);
          let sandbox: Sandbox;
          try {
            sandbox = await backend.create({ identity, persistent: false, memoryMb: profile.limits.memoryMb, egress });
          } catch (err) {
            egress?.close();
            throw err;
          }
          callsLive.set(backend.kind, (callsLive.get(backend.kind) ?? 0) + 1);
          sandbox.onEnd(() => callsLive.set(backend.kind, (callsLive.get(backend.kind) ?? 1) - 1));
          return sandbox;
        },
      };
    },

    async createSession(principal, profile, egressPolicy, open) {
      const backend = backendFor(profile);
      if (sessions.size + creating.size >= options.maxSessions) {
        throw new CordonError('RATE_LIMITED', `too many live sandboxes in all (${options.maxSessions}, sandbox.maxSessions); delete some or wait for idle ones to expire`, { details: { quota: 'sandboxes', retryAfterSec: 10 } });
      }
      // Sandboxes still being made count too: a container takes a second to start, and
      // concurrent requests must not all pass the check before the first is registered.
      let mine = 0;
      let agents = 0;
      for (const identity of [...[...sessions.values()].map((e) => e.sandbox.identity), ...creating]) {
        if (identity.agent === principal.agent) agents++;
        if (identity.profile === profile.name && owns(principal, identity)) mine++;
      }
      // An agent acting for many users still gets one share of the whole, not one per user.
      if (agents >= options.maxSessionsPerAgent) {
        throw new CordonError('RATE_LIMITED', `agent ${principal.agent} already holds ${agents} live sandboxes, its share (sandbox.maxSessionsPerAgent); delete some first`, { details: { quota: 'agent_sandboxes', retryAfterSec: 10 } });
      }
      if (mine >= profile.session.maxPerPrincipal) {
        throw new CordonError('RATE_LIMITED', `you already hold ${mine} live "${profile.name}" sandboxes, the most this profile allows (session.maxPerPrincipal); delete one first`, { details: { quota: 'principal_sandboxes', retryAfterSec: 10, profile: profile.name } });
      }
      const t = now();
      const identity = createSandboxIdentity({ principal, profile: profile.name, backend: backend.kind, egressPolicy, trustDomain: options.trustDomain, lifetimeMs: profile.session.maxTtlMs, now: t });
      const egress = open(identity);
      let sandbox: Sandbox;
      creating.add(identity);
      try {
        sandbox = await backend.create({ identity, persistent: true, memoryMb: profile.limits.memoryMb, egress });
      } catch (err) {
        egress?.close();
        throw err;
      } finally {
        creating.delete(identity);
      }
      const entry: Entry = { sandbox, profile, createdAt: t, lastUsed: t };
      sessions.set(identity.id, entry);
      // Its backend may end it (its host died): then it is gone for its owner too.
      sandbox.onEnd(() => sessions.delete(identity.id));
      return info(entry);
    },

    session(principal, id) {
      const e = sessions.get(id);
      // Someone else's sandbox answers exactly as an unknown one: its existence is not disclosed.
      if (e === undefined || !owns(principal, e.sandbox.identity)) throw notFound(id);
      if (!e.sandbox.alive() || now() >= deadline(e)) {
        end(id);
        throw notFound(id);
      }
      e.lastUsed = now();
      return { sandbox: e.sandbox, profile: e.profile, info: info(e) };
    },

    listSessions(principal) {
      const t = now();
      return [...sessions.values()].filter((e) => owns(principal, e.sandbox.identity) && e.sandbox.alive() && t < deadline(e)).map(info);
    },

    deleteSession(principal, id) {
      const e = sessions.get(id);
      if (e === undefined || !owns(principal, e.sandbox.identity)) throw notFound(id);
      end(id);
    },

    stats: () => ({ sessions: sessions.size }),

    live() {
      const out: Record<string, { session: number; call: number }> = {};
      for (const kind of options.backends.keys()) out[kind] = { session: 0, call: callsLive.get(kind) ?? 0 };
      for (const e of sessions.values()) {
        const counts = out[e.sandbox.identity.backend];
        if (counts !== undefined) counts.session++;
      }
      return out;
    },

    async close() {
      clearInterval(sweep);
      await Promise.all([...sessions.values()].map((e) => e.sandbox.dispose()));
      sessions.clear();
    },
  };
}
