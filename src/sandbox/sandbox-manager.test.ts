import { describe, expect, it } from 'vitest';
import type { Principal } from '../core/principal.ts';
import type { Sandbox, SandboxBackend, SandboxSpec } from './sandbox-backend.ts';
import { createSandboxManager } from './sandbox-manager.ts';
import { createHostWorkspace } from './workspace/index.ts';
import type { SandboxProfile } from './profiles/index.ts';

/** A backend whose sandboxes take a while to make, as containers do. */
function slowBackend(): SandboxBackend & { made: number } {
  const backend = {
    kind: 'container' as const,
    made: 0,
    async create(spec: SandboxSpec): Promise<Sandbox> {
      await new Promise((r) => setTimeout(r, 20));
      backend.made++;
      return { identity: spec.identity, persistent: true, egress: null, workspace: createHostWorkspace('/nonexistent/cordon-unused-workspace'), alive: () => true, run: () => Promise.reject(new Error('unused')), dispose: async () => {}, onEnd: () => {} };
    },
    stats: () => ({}),
    close: async () => {},
  };
  return backend;
}

const profile = {
  name: 'slow', file: '/p/slow.yaml', backend: 'container', description: '', languages: ['sh'], tools: ['code'], egressPolicy: null, sensitivePaths: [], container: null,
  limits: { memoryMb: 64, maxMemoryMb: 64, timeoutMs: 1000, maxTimeoutMs: 1000, outputBytes: 1, resultBytes: 1 },
  session: { idleTtlMs: 60_000, maxTtlMs: 60_000, maxPerPrincipal: 3 },
} as SandboxProfile;
const principal = { agent: 'a', user: null, tokenId: 't', expiresAt: 0, scope: null } as unknown as Principal;

describe('session sandbox quotas', () => {
  it('count sandboxes still being made: concurrent requests cannot all pass the check before the first registers', async () => {
    const backend = slowBackend();
    const manager = createSandboxManager({ backends: new Map([['container', backend]]), profiles: new Map([['slow', profile]]), trustDomain: 't', maxSessions: 100, maxSessionsPerAgent: 100 });
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => manager.createSession(principal, profile, null, () => null)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r.reason as { code: string }).code === 'RATE_LIMITED')).toBe(true);
    expect(backend.made).toBe(3);
    await manager.close();
  });

  it('count them against the global limit too', async () => {
    const backend = slowBackend();
    const manager = createSandboxManager({ backends: new Map([['container', backend]]), profiles: new Map([['slow', profile]]), trustDomain: 't', maxSessions: 2, maxSessionsPerAgent: 100 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => manager.createSession(principal, profile, null, () => null)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(backend.made).toBe(2);
    await manager.close();
  });
});

/** A backend whose sandboxes end when disposed, telling their listeners once. */
function endingBackend(): SandboxBackend {
  return {
    kind: 'isolate',
    async create(spec: SandboxSpec): Promise<Sandbox> {
      const listeners: ((reason: string) => void)[] = [];
      let alive = true;
      return {
        identity: spec.identity, persistent: spec.persistent, egress: null, workspace: createHostWorkspace('/nonexistent/cordon-unused-workspace'),
        alive: () => alive, run: () => Promise.reject(new Error('unused')),
        dispose: async () => {
          if (!alive) return;
          alive = false;
          for (const l of listeners.splice(0)) l('disposed');
        },
        onEnd: (l) => void listeners.push(l),
      };
    },
    stats: () => ({}),
    close: async () => {},
  };
}

describe('live sandbox counts (the cordon_sandboxes gauge)', () => {
  it('count per-call sandboxes from made to ended and session sandboxes while they live, per backend', async () => {
    const isolateProfile = { ...profile, name: 'iso', backend: 'isolate' } as SandboxProfile;
    const manager = createSandboxManager({ backends: new Map([['isolate', endingBackend()]]), profiles: new Map([['iso', isolateProfile]]), trustDomain: 't', maxSessions: 10, maxSessionsPerAgent: 10 });
    expect(manager.live()).toEqual({ isolate: { session: 0, call: 0 } });
    const pending = manager.forCall(principal, isolateProfile, null, 1000);
    // Not made yet: an identity alone is no sandbox.
    expect(manager.live()).toEqual({ isolate: { session: 0, call: 0 } });
    const one = await pending.start(() => null);
    const two = await manager.forCall(principal, isolateProfile, null, 1000).start(() => null);
    const session = await manager.createSession(principal, isolateProfile, null, () => null);
    expect(manager.live()).toEqual({ isolate: { session: 1, call: 2 } });
    await one.dispose();
    await one.dispose();
    manager.deleteSession(principal, session.id);
    expect(manager.live()).toEqual({ isolate: { session: 0, call: 1 } });
    await two.dispose();
    expect(manager.live()).toEqual({ isolate: { session: 0, call: 0 } });
    await manager.close();
  });
});
