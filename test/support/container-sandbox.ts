import type Docker from 'dockerode';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connectDocker,
  createContainerBackend,
  createSandboxIdentity,
  currentRunnerId,
  imageTag,
  loadImageRecipes,
  parseDockerHost,
  readDebianArchive,
  type ContainerBackend,
  type ContainerBackendConfig,
  type ContainerProfileSettings,
  type ImageRecipe,
} from '../../src/sandbox/index.ts';
import type { CodeRunRequest, SandboxIdentity } from '../../src/sandbox/index.ts';

/** The engine the Docker suites run against, or null where none answers (they skip, or fail CI). */
export const testDocker: Docker | null = await connectDocker(parseDockerHost(process.env.DOCKER_HOST), 2000).catch(() => null);

export type Runtime = 'runc' | 'runsc';

/** Settings of a test container profile on the built image of `recipe`. */
export function testContainerSettings(recipe: 'python' | 'shell', runtime: Runtime, overrides: Partial<ContainerProfileSettings> = {}): ContainerProfileSettings {
  const r = loadImageRecipes().get(recipe) as ImageRecipe;
  return {
    profile: `${recipe}-${runtime}`,
    image: imageTag(r, readDebianArchive().suite),
    runtime,
    uid: r.user.uid,
    env: {},
    limits: { cpus: 1, pids: runtime === 'runsc' ? 256 : 64, workspaceMb: 16, tmpMb: 8 },
    memoryMb: 128,
    warmPool: 0,
    languages: recipe === 'python' ? ['python', 'sh'] : ['sh'],
    ...overrides,
  };
}

/** A container backend over the test engine; close() it in afterAll. */
export function createTestContainerBackend(profiles: readonly ContainerProfileSettings[], config: Partial<ContainerBackendConfig> = {}): ContainerBackend {
  return createContainerBackend({
    docker: async () => testDocker as Docker,
    profiles: new Map(profiles.map((p) => [p.profile, p])),
    runDir: mkdtempSync(join(tmpdir(), 'cordon-ctr-')),
    // This process's own runner id: a concurrent `sandboxes gc` leaves its containers be.
    runnerId: currentRunnerId(),
    config: { maxConcurrent: 8, maxQueued: 32, startTimeoutMs: 30_000, gcIntervalMs: 600_000, maxSessions: 32, maxSessionsPerAgent: 16, ...config },
  });
}

export function containerIdentity(profile: string, agent = 'agent-a'): SandboxIdentity {
  const principal = { agent, user: null, tokenId: 'test', expiresAt: Math.ceil(Date.now() / 1000) + 60, scope: null };
  return createSandboxIdentity({ principal, profile, backend: 'container', egressPolicy: null, trustDomain: 'test', lifetimeMs: 60_000, now: Date.now() });
}

export function runRequest(language: 'python' | 'sh', source: string, overrides: Partial<CodeRunRequest> = {}): CodeRunRequest {
  return { language, source, memoryMb: 128, timeoutMs: 10_000, cpuTimeMs: 10_000, outputBytes: 64 * 1024, resultBytes: 64 * 1024, ...overrides };
}
