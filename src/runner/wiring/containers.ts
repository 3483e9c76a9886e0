import { join } from 'node:path';
import type Docker from 'dockerode';
import type { CordonConfig } from '../../config/config-schema.ts';
import { CordonError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { Logger } from '../../core/logger.ts';
import {
  connectDocker,
  createContainerBackend,
  currentRunnerId,
  imageTag,
  parseDockerHost,
  readDebianArchive,
  type ContainerBackend,
  type ContainerProfileSettings,
  type ImageRecipe,
  type SandboxProfile,
} from '../../sandbox/index.ts';

/** sockaddr_un.sun_path holds 108 bytes on Linux, terminator included. */
const MAX_SOCKET_PATH = 103;
/** `<run dir>/<container slot id>/executor.sock`, the longest socket path under the run directory. */
const SOCKET_SUFFIX = `/${newId('ctr')}/executor.sock`.length;
/** How long the engine has to answer its first ping; a missing socket fails at once. */
const DOCKER_PING_TIMEOUT_MS = 5_000;

/**
 * The container backend, when any profile uses one. Nothing here needs an engine:
 * the first container sandbox connects to it, and no engine (or no way to name the
 * images) is SANDBOX_UNAVAILABLE for container profiles only, saying how to fix it,
 * while isolate profiles go on as before.
 */
export function wireContainers(config: CordonConfig, profiles: readonly SandboxProfile[], recipes: ReadonlyMap<string, ImageRecipe>, logger: Logger): ContainerBackend | null {
  const containerProfiles = profiles.filter((p) => p.container !== null);
  if (containerProfiles.length === 0) return null;
  const runDir = join(config.dataDir, 'containers');

  let unavailable: string | null = null;
  let suite = '';
  try {
    suite = readDebianArchive().suite;
  } catch (err) {
    unavailable = `cannot tell which images container sandboxes use: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (Buffer.byteLength(runDir) + SOCKET_SUFFIX > MAX_SOCKET_PATH) {
    unavailable = `the data directory ${config.dataDir} is too long for the containers' unix sockets (at most ${MAX_SOCKET_PATH - SOCKET_SUFFIX - '/containers'.length} bytes); use a shorter dataDir`;
  }
  const settings = new Map<string, ContainerProfileSettings>();
  for (const p of containerProfiles) {
    const c = p.container;
    const recipe = recipes.get(c?.image ?? '');
    if (c === null || recipe === undefined) continue;
    settings.set(p.name, {
      profile: p.name,
      image: unavailable === null ? imageTag(recipe, suite) : '',
      runtime: c.runtime,
      uid: c.user,
      env: c.env,
      limits: { cpus: c.cpus, pids: c.pids, workspaceMb: c.workspaceMb, tmpMb: c.tmpMb },
      memoryMb: p.limits.memoryMb,
      warmPool: c.warmPool,
      languages: p.languages,
    });
  }

  let docker: Promise<Docker> | null = null;
  const connect = (): Promise<Docker> => {
    if (unavailable !== null) return Promise.reject(new CordonError('SANDBOX_UNAVAILABLE', unavailable));
    // A failed connection is not kept: the engine may be started later.
    docker ??= connectDocker(parseDockerHost(config.sandbox.container.dockerHost ?? undefined), DOCKER_PING_TIMEOUT_MS).catch((err: unknown) => {
      docker = null;
      throw err;
    });
    return docker;
  };
  return createContainerBackend({ docker: connect, profiles: settings, runDir, runnerId: currentRunnerId(), config: config.sandbox.container, logger });
}
