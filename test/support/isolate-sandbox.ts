import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIsolateBackend, createSandboxIdentity, hostWorkspaceLeases, type IsolateBackend, type IsolateHostsConfig } from '../../src/sandbox/index.ts';
import type { CodeRunRequest, CodeRunResult, HostFetch, SandboxIdentity } from '../../src/sandbox/index.ts';

export const TEST_HOSTS: IsolateHostsConfig = {
  hosts: 1,
  maxHosts: 8,
  maxHostsPerAgent: 2,
  hostMemoryMb: 512,
  memoryCap: 'auto',
  warmIsolatesPerHost: 1,
  idleHostMs: 60_000,
  maxConcurrent: 16,
  maxQueued: 64,
};

/** An isolate backend with small caps, for tests; close() it in afterAll. */
export function createTestIsolateBackend(overrides: Partial<IsolateHostsConfig> = {}, extra: { onHostExit?: (pid: number, owner: string, death: unknown) => void } = {}): IsolateBackend {
  return createIsolateBackend({
    config: { ...TEST_HOSTS, ...overrides },
    warmMemoryMb: 64,
    caps: { outputBytes: 1024, resultBytes: 4096, requestBytes: 1024 * 1024 },
    maxResponseBytes: 5 * 1024 * 1024,
    label: `test-${process.pid}`,
    workspace: hostWorkspaceLeases(join(tmpdir(), `cordon-test-workspaces-${process.pid}`), { maxBytes: 16 << 20, maxEntries: 1000 }),
    ...(extra.onHostExit === undefined ? {} : { onHostExit: extra.onHostExit }),
  });
}

export function testIdentity(agent = 'agent-a'): SandboxIdentity {
  const principal = { agent, user: null, tokenId: 'test', expiresAt: Math.ceil(Date.now() / 1000) + 60, scope: null };
  return createSandboxIdentity({ principal, profile: 'js', backend: 'isolate', egressPolicy: null, trustDomain: 'test', lifetimeMs: 60_000, now: Date.now() });
}

export function codeRequest(source: string, extra: Partial<CodeRunRequest> = {}): CodeRunRequest {
  return { language: 'javascript', source, memoryMb: 64, timeoutMs: 1000, cpuTimeMs: extra.timeoutMs ?? 1000, outputBytes: 1024, resultBytes: 4096, ...extra };
}

/** One call in a fresh per-call sandbox of `agent`. */
export async function runOnce(backend: IsolateBackend, source: string, extra: Partial<CodeRunRequest> = {}, options: { agent?: string; fetch?: HostFetch } = {}): Promise<CodeRunResult> {
  const sandbox = await backend.create({
    identity: testIdentity(options.agent),
    persistent: false,
    memoryMb: 64,
    egress: options.fetch === undefined ? null : { fetch: options.fetch, channel: () => Promise.reject(new Error('no proxy in this test')), close: () => {} },
  });
  return sandbox.run(codeRequest(source, extra));
}
