import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CordonConfig } from '../../config/config-schema.ts';
import { CordonError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import {
  BUNDLED_IMAGE_RECIPE_DIR,
  checkProfileReferences,
  createIsolateBackend,
  currentRunnerId,
  hostWorkspaceLeases,
  isRunnerAlive,
  sharedWorkspaceLease,
  createSandboxManager,
  HOST_BASE_MB,
  loadImageRecipes,
  loadSandboxProfiles,
  type ContainerBackend,
  type IsolateBackend,
  type SandboxBackend,
  type SandboxManager,
} from '../../sandbox/index.ts';
import type { ToolRegistry } from '../../tools/tool-registry.ts';
import { wireContainers } from './containers.ts';

/**
 * What an isolate sandbox's host workspace may hold. Isolate profiles have no workspaceMb
 * of their own (yet): one size for all of them, as big as the python profile's /workspace.
 */
const HOST_WORKSPACE_QUOTA = { maxBytes: 256 * 1024 * 1024, maxEntries: 10_000 };

/** `<dataDir>/workspaces/<runner id>/<sandbox id>`: a runner's folder goes with the runner. */
function workspacesDir(config: CordonConfig): string {
  return join(config.dataDir, 'workspaces');
}

export interface SandboxWiring {
  readonly manager: SandboxManager;
  readonly isolate: IsolateBackend;
  /** Null when no profile is a container profile. */
  readonly container: ContainerBackend | null;
  /** The longest wall-clock limit any profile allows a call. */
  readonly maxCallMs: number;
  /** Removes the host workspaces runners that are gone left behind (a crash); serve calls it at start. */
  sweepWorkspaces(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Where tools run: the sandbox profiles (a broken one, or one naming an unknown tool,
 * egress policy or image recipe, stops start-up with its file and line), the isolate
 * backend with its hosts, the container backend when a profile needs one (it connects to
 * the engine on first use: no engine is SANDBOX_UNAVAILABLE for container profiles alone),
 * and the manager that owns every sandbox's life.
 */
export function wireSandboxes(
  config: CordonConfig,
  deps: { tools: ToolRegistry; egressPolicies: ReadonlySet<string>; logger: Logger; onHostExit?: (pid: number, owner: string, death: unknown) => void; workspaceRoot?: string },
): SandboxWiring {
  const profileMap = loadSandboxProfiles(config.sandbox.profileDir);
  const recipes = loadImageRecipes(BUNDLED_IMAGE_RECIPE_DIR);
  checkProfileReferences(profileMap, {
    tools: new Set(deps.tools.list().map((t) => t.definition.name)),
    egressPolicies: deps.egressPolicies,
    imageRecipes: new Set(recipes.keys()),
  });
  const profiles = [...profileMap.values()];
  const hostBudgetMb = config.sandbox.isolate.hostMemoryMb - HOST_BASE_MB;
  for (const p of profiles) {
    if (p.backend === 'isolate' && p.limits.maxMemoryMb > hostBudgetMb) {
      throw new CordonError('CONFIG_INVALID', `${p.file}: limits.maxMemoryMb ${p.limits.maxMemoryMb} is more than an isolate host holds (sandbox.isolate.hostMemoryMb ${config.sandbox.isolate.hostMemoryMb} less ${HOST_BASE_MB} MB); lower it or raise hostMemoryMb`, {
        details: { file: p.file, field: 'limits.maxMemoryMb' },
      });
    }
  }
  if (!profileMap.has(config.sandbox.defaultProfile)) {
    throw new CordonError('CONFIG_INVALID', `${config.configFile ?? 'config'}: /sandbox/defaultProfile names "${config.sandbox.defaultProfile}", which is not in ${config.sandbox.profileDir}`, { details: { field: '/sandbox/defaultProfile' } });
  }
  const isolateProfiles = profiles.filter((p) => p.backend === 'isolate');
  const isolate = createIsolateBackend({
    config: config.sandbox.isolate,
    warmMemoryMb: profileMap.get(config.sandbox.defaultProfile)?.limits.memoryMb ?? 64,
    caps: {
      outputBytes: Math.max(1, ...isolateProfiles.map((p) => p.limits.outputBytes)),
      resultBytes: Math.max(1, ...isolateProfiles.map((p) => p.limits.resultBytes)),
      requestBytes: 10 * 1024 * 1024,
    },
    maxResponseBytes: config.egress.maxResponseBytes,
    label: `${process.pid}`,
    workspace: deps.workspaceRoot === undefined ? hostWorkspaceLeases(join(workspacesDir(config), currentRunnerId()), HOST_WORKSPACE_QUOTA) : sharedWorkspaceLease(deps.workspaceRoot),
    // What a host writes to stderr (V8's fatal errors, a failed memory cap) is for the operator.
    onStderr: (pid, text) => deps.logger.warn({ pid, stderr: text.slice(0, 1024) }, 'isolate host stderr'),
    onHostExit: (pid, owner, death) => {
      deps.logger[death.kind === 'retired' ? 'debug' : 'warn']({ pid, agent: owner === '' ? null : owner, death }, 'isolate host exited');
      deps.onHostExit?.(pid, owner, death);
    },
  });
  const container = wireContainers(config, profiles, recipes, deps.logger);
  const backends = new Map<string, SandboxBackend>([['isolate', isolate]]);
  if (container !== null) backends.set('container', container);
  const manager = createSandboxManager({ backends, profiles: profileMap, trustDomain: config.egress.trustDomain, maxSessions: config.sandbox.maxSessions, maxSessionsPerAgent: config.sandbox.maxSessionsPerAgent });
  return {
    manager,
    isolate,
    container,
    maxCallMs: Math.max(0, ...profiles.map((p) => p.limits.maxTimeoutMs)),
    async sweepWorkspaces() {
      const dir = workspacesDir(config);
      const runners = await readdir(dir).catch(() => [] as string[]);
      const gone = runners.filter((r) => !isRunnerAlive(r));
      await Promise.all(gone.map((r) => rm(join(dir, r), { recursive: true, force: true })));
      return gone.length;
    },
    async close() {
      await manager.close();
      await Promise.all([isolate.close(), container?.close()]);
    },
  };
}
