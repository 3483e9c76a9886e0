import Docker from 'dockerode';
import { CordonError } from '../../core/errors.ts';

/** Where the Docker engine is: a unix socket (the default) or tcp://host:port. */
export type DockerEndpoint = { readonly socketPath: string } | { readonly host: string; readonly port: number };

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
/**
 * Every call is pinned to Engine API 1.41 (Docker 20.10, Debian bookworm's `docker.io`): newer
 * engines serve it too, and nothing Cordon asks for may depend on a later version.
 */
export const DOCKER_API_VERSION = 'v1.41';

/** `DOCKER_HOST` as the docker CLI reads it; unset: the local socket. */
export function parseDockerHost(value: string | undefined): DockerEndpoint {
  if (value === undefined || value === '') return { socketPath: DEFAULT_DOCKER_SOCKET };
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length);
    if (!path.startsWith('/') || path.length > 200) throw new CordonError('CONFIG_INVALID', `DOCKER_HOST ${JSON.stringify(value.slice(0, 80))}: unix:// needs an absolute socket path`, { details: { field: 'DOCKER_HOST' } });
    return { socketPath: path };
  }
  const m = /^tcp:\/\/([A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:]{2,39}\]):(\d{1,5})\/?$/.exec(value);
  if (m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535) return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new CordonError('CONFIG_INVALID', `DOCKER_HOST ${JSON.stringify(value.slice(0, 80))} is not unix:///path or tcp://host:port`, { details: { field: 'DOCKER_HOST' } });
}

function describe(endpoint: DockerEndpoint): string {
  return 'socketPath' in endpoint ? `unix://${endpoint.socketPath}` : `tcp://${endpoint.host}:${endpoint.port}`;
}

/**
 * How long any one request to the engine may go without a byte before it is dropped. Removing a
 * gVisor sandbox after a fork bomb takes seconds; a wait for a container's exit is raced by callers.
 */
export const DOCKER_IDLE_TIMEOUT_MS = 60_000;

/**
 * A client for the engine at `endpoint` that has answered a ping within `pingTimeoutMs`. That
 * bound is the ping's alone: later requests get DOCKER_IDLE_TIMEOUT_MS. No engine is no outage:
 * container profiles fail with SANDBOX_UNAVAILABLE, saying how to get one, and isolates go on.
 */
export async function connectDocker(endpoint: DockerEndpoint, pingTimeoutMs = 3000): Promise<Docker> {
  const docker = new Docker({ ...endpoint, version: DOCKER_API_VERSION, timeout: DOCKER_IDLE_TIMEOUT_MS });
  try {
    // dockerode's ping takes an abort signal; its type declarations do not say so.
    await (docker.ping as unknown as (this: Docker, opts: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, { abortSignal: AbortSignal.timeout(pingTimeoutMs) });
  } catch (err) {
    throw new CordonError(
      'SANDBOX_UNAVAILABLE',
      `no Docker engine answers at ${describe(endpoint)}: container sandboxes need one. Install and start it (Debian: apt-get install docker.io runsc; dockerd --config-file sandboxes/docker/daemon.json), or set DOCKER_HOST; isolate sandboxes work without it`,
      { cause: err, details: { docker: describe(endpoint) } },
    );
  }
  return docker;
}
