import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { CordonError } from '../../core/errors.ts';
import { EXECUTOR_SOURCE, ExecutorLinkError, listenForExecutor, type ExecutorLink } from './executor-link.ts';
import { hardenedContainerConfig, type ContainerLimits } from './hardened-container.ts';

/** What a container profile says about its containers (sandboxes/<name>.yaml, backend: container). */
export interface ContainerProfileSettings {
  readonly profile: string;
  /** The image's tag (cordon/<recipe>:<hash>). */
  readonly image: string;
  readonly runtime: 'runc' | 'runsc';
  readonly uid: number;
  readonly env: Readonly<Record<string, string>>;
  readonly limits: Omit<ContainerLimits, 'memoryMb'>;
  /** The memory limit a container starts with (a call may raise it to its own limit). */
  readonly memoryMb: number;
  /** Started containers kept ready. */
  readonly warmPool: number;
  /** Languages its code tool offers: a python container has its interpreter started before it is ready. */
  readonly languages: readonly string[];
}

/** One started container with its executor connected, not yet bound to a sandbox identity. */
export interface ContainerSlot {
  /** Names its run directory and its `cordon.sandbox` label. */
  readonly id: string;
  readonly dir: string;
  readonly container: Docker.Container;
  readonly link: ExecutorLink;
  readonly settings: ContainerProfileSettings;
  memoryMb: number;
}

/** Where code in the sandbox finds its way out: the in-container forwarder to its egress socket. */
const PROXY = 'http://127.0.0.1:3128';
const BASE_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/workspace',
  LANG: 'C.UTF-8',
  // Both spellings: curl reads only the lowercase ones, some tools only the uppercase.
  HTTP_PROXY: PROXY,
  HTTPS_PROXY: PROXY,
  ALL_PROXY: PROXY,
  http_proxy: PROXY,
  https_proxy: PROXY,
  all_proxy: PROXY,
  // Nothing bypasses the proxy; there is no other way out anyway.
  NO_PROXY: '',
  no_proxy: '',
});

export interface StartSlotOptions {
  readonly docker: Docker;
  readonly runDir: string;
  readonly runnerId: string;
  readonly settings: ContainerProfileSettings;
  readonly id: string;
  readonly memoryMb: number;
  /** How long the executor has to connect after the container starts. */
  readonly startTimeoutMs: number;
}

/**
 * Creates and starts one hardened container whose executor has connected. Its run
 * directory (bound read-only at /run/cordon) holds the executor socket, and later
 * its egress socket: nothing else of the host is in the container.
 */
export async function startSlot(options: StartSlotOptions): Promise<ContainerSlot> {
  const { docker, settings, id } = options;
  const dir = join(options.runDir, id);
  await mkdir(dir, { mode: 0o755 });
  let container: Docker.Container | null = null;
  try {
    const pending = await listenForExecutor(join(dir, 'executor.sock'), options.startTimeoutMs);
    const config = hardenedContainerConfig({
      image: settings.image,
      runtime: settings.runtime,
      uid: settings.uid,
      limits: { ...settings.limits, memoryMb: options.memoryMb },
      sandboxId: id,
      runnerId: options.runnerId,
      runDir: dir,
      // The languages it offers: a Python sandbox starts its interpreter before it reports ready.
      cmd: ['python3', '-I', '-c', EXECUTOR_SOURCE, settings.languages.join(',')],
      env: { ...settings.env, ...BASE_ENV },
    });
    try {
      container = await docker.createContainer(config);
      await container.start();
    } catch (err) {
      pending.abort();
      throw err;
    }
    const link = await pending.ready;
    return { id, dir, container, link, settings, memoryMb: options.memoryMb };
  } catch (err) {
    if (container !== null) await container.remove({ force: true }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    const notBuilt = (err as { statusCode?: number }).statusCode === 404 && /image/i.test(String((err as Error).message));
    if (notBuilt) {
      throw new CordonError('SANDBOX_UNAVAILABLE', `sandbox profile "${settings.profile}" needs image ${settings.image}, which is not built; run: cordon sandboxes build (or make images)`, { cause: err, details: { profile: settings.profile, image: settings.image } });
    }
    // The engine's own words name host paths and settings: they go to the runner's log (the
    // cause), not to the caller; the executor's are ours and say what happened.
    const why = err instanceof ExecutorLinkError ? err.message : 'the Docker engine refused it (the runner\'s log says why)';
    throw new CordonError('SANDBOX_FAILED', `could not start a container for sandbox profile "${settings.profile}": ${why}; retry the call`, { cause: err, details: { profile: settings.profile, retryable: true } });
  }
}

/** Removes the container and its run directory; never throws (the engine may be gone). */
export async function removeSlot(slot: ContainerSlot): Promise<void> {
  slot.link.close();
  await slot.container.remove({ force: true }).catch(() => {});
  await rm(slot.dir, { recursive: true, force: true }).catch(() => {});
}
