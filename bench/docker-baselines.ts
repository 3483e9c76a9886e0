import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import type { ContainerCreateOptions } from 'dockerode';
import { hardenedContainerConfig, type ContainerProfileSettings } from '../src/sandbox/index.ts';

const run = promisify(execFile);

/** Containers the baselines start carry this label, so a crashed bench's leftovers can be found. */
export const BENCH_LABEL = 'cordon.bench';
/** The work every path runs: one print, one interpreter. */
export const PRINT_ONE = 'print(1)';

/**
 * What a user would type instead of Cordon: `docker run --rm --network none <image> python3 -c
 * 'print(1)'` through the docker CLI, wall time until it returns (after the container is
 * removed: with --rm the CLI waits for the engine's removal). The CLI's own start is counted,
 * as it is for anyone who runs it.
 */
export async function dockerRun(image: string, runtime: 'runc' | 'runsc', tag: string): Promise<number> {
  const t0 = performance.now();
  const { stdout } = await run('docker', ['run', '--rm', '--network', 'none', '--runtime', runtime, '--label', `${BENCH_LABEL}=${tag}`, image, 'python3', '-c', PRINT_ONE], { timeout: 60_000 });
  const ms = performance.now() - t0;
  if (stdout !== '1\n') throw new Error(`container bench: docker run printed ${JSON.stringify(stdout.slice(0, 200))}, not "1\\n"`);
  return ms;
}

/** The engine's own steps for one `print(1)` container, in order (they add up to the whole). */
export interface ApiRunParts {
  readonly create: number;
  readonly start: number;
  /** Started → exited: python's start and print(1), the engine's exit handling. */
  readonly run: number;
  readonly remove: number;
}

/**
 * The floor under a cold sandbox: a container with the profile's hardening running
 * `python3 -c 'print(1)'` through the Engine API (create, start, wait, remove), no CLI and no
 * executor. Cold minus this, step by step, is what the executor and its protocol cost.
 */
export async function dockerApiRun(docker: Docker, settings: ContainerProfileSettings, runnerId: string, tag: string): Promise<ApiRunParts> {
  const config = benchContainerConfig(settings, runnerId, tag, `bench-api-${tag}`, ['python3', '-c', PRINT_ONE]);
  const t0 = performance.now();
  const container = await docker.createContainer(config);
  let removed = false;
  try {
    const t1 = performance.now();
    await container.start();
    const t2 = performance.now();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const t3 = performance.now();
    await container.remove({ force: true });
    removed = true;
    const t4 = performance.now();
    if (StatusCode !== 0) throw new Error(`container bench: python3 -c 'print(1)' exited ${StatusCode} in a hardened container`);
    return { create: t1 - t0, start: t2 - t1, run: t3 - t2, remove: t4 - t3 };
  } finally {
    if (!removed) await container.remove({ force: true }).catch(() => {});
  }
}

/**
 * The profile's hardened create body for a bench container, labelled for the bench's cleanup.
 * `runnerId` is this process's: a concurrent `sandboxes gc` leaves the container be.
 */
function benchContainerConfig(settings: ContainerProfileSettings, runnerId: string, tag: string, sandboxId: string, cmd: string[]): ContainerCreateOptions {
  const config = hardenedContainerConfig({ image: settings.image, runtime: settings.runtime, uid: settings.uid, limits: { ...settings.limits, memoryMb: settings.memoryMb }, sandboxId, runnerId, cmd });
  config.Labels = { ...config.Labels, [BENCH_LABEL]: tag };
  return config;
}

/**
 * A running hardened container (the profile's flags and limits, `sleep infinity` as its
 * command) for the exec-per-call alternative the executor replaced. Remove it in `finally`.
 */
export async function startExecTarget(docker: Docker, settings: ContainerProfileSettings, runnerId: string, tag: string): Promise<Docker.Container> {
  const config = benchContainerConfig(settings, runnerId, tag, `bench-exec-${tag}`, ['sleep', 'infinity']);
  const container = await docker.createContainer(config);
  try {
    await container.start();
  } catch (err) {
    await container.remove({ force: true }).catch(() => {});
    throw err;
  }
  return container;
}

/**
 * `docker exec <container> python3 -c 'print(1)'` through the Engine API, as a runner without
 * an executor would make each call: create the exec, start it hijacked, demultiplex its
 * output until the stream ends, then inspect it for the exit code.
 */
export async function dockerExec(docker: Docker, container: Docker.Container): Promise<number> {
  const t0 = performance.now();
  const exec = await container.exec({ Cmd: ['python3', '-c', PRINT_ONE], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  let stdout = '';
  out.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
  });
  docker.modem.demuxStream(stream, out, new PassThrough().resume());
  // finished() also settles for a stream that ended before we looked (a fast command).
  await finished(stream, { writable: false }).catch(() => {});
  const { ExitCode } = await exec.inspect();
  const ms = performance.now() - t0;
  if (ExitCode !== 0 || stdout !== '1\n') throw new Error(`container bench: docker exec ended ${ExitCode} with ${JSON.stringify(stdout.slice(0, 200))}`);
  return ms;
}

/** Removes every container a bench run labelled `tag` (docker run leftovers, exec targets); returns how many. */
export async function removeLabelled(docker: Docker, label: string): Promise<number> {
  const left = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  return left.length;
}
