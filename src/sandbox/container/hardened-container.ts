import type { ContainerCreateOptions } from 'dockerode';

/** The resources one container may use; every one is enforced by the kernel, not by Cordon. */
export interface ContainerLimits {
  readonly memoryMb: number;
  /** CPU time as a share of cores (0.5 = half a core). */
  readonly cpus: number;
  /**
   * Processes and threads at once: a fork bomb stops here. Under runc this is the container's pids
   * cgroup; under runsc it is RLIMIT_NPROC inside gVisor (see {@link runscHostTaskLimit}).
   */
  readonly pids: number;
  /** The writable workspace (`/workspace`, tmpfs): a disk fill stops here. */
  readonly workspaceMb: number;
  /** `/tmp` (tmpfs). */
  readonly tmpMb: number;
}

export interface HardenedContainerSpec {
  readonly image: string;
  /** `runc` (Docker's default) or `runsc` (gVisor: a user-space kernel between the code and the host). */
  readonly runtime: 'runc' | 'runsc';
  /** The image recipe's unprivileged user; never 0. */
  readonly uid: number;
  readonly limits: ContainerLimits;
  /** `cordon.sandbox` and `cordon.runner`, so a crashed runner's containers can be found and removed. */
  readonly sandboxId: string;
  readonly runnerId: string;
  /** The container's first process (under docker-init, which reaps orphans and passes signals). */
  readonly cmd: readonly string[];
  /**
   * The sandbox's own run directory on the host, bound read-only at /run/cordon: its executor
   * socket and its egress socket, nothing else. Omitted: no host path at all.
   */
  readonly runDir?: string;
  /** Non-secret environment (secrets never enter a sandbox). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The container's memory limit: its processes' `memoryMb` plus its tmpfs mounts, whose
 * pages the kernel charges to the same cgroup. Without them, filling /workspace would end
 * in the OOM killer instead of "no space left on device" at the workspace's size.
 */
export function containerMemoryBytes(limits: Pick<ContainerLimits, 'memoryMb' | 'workspaceMb' | 'tmpMb'>): number {
  return (limits.memoryMb + limits.workspaceMb + limits.tmpMb) * 1024 * 1024;
}

export const CORDON_SANDBOX_LABEL = 'cordon.sandbox';
export const CORDON_RUNNER_LABEL = 'cordon.runner';

/**
 * The host pids cgroup limit of a runsc container whose code may run `guestTasks` tasks.
 *
 * Under gVisor the container's host cgroup holds gVisor itself, not the code: the Sentry's and the
 * gofer's threads (about 40 when idle) and, on the ptrace platform, a stub process per guest address
 * space with a stub thread for every Sentry thread that ran it. When a clone there fails the Sentry
 * panics ("error initializing first thread: resource temporarily unavailable") and the whole sandbox
 * dies: Docker then logs "shim disconnected". So `pids` (64) as the cgroup limit killed an idle
 * sandbox after a few execs, and cannot bound the code's tasks. Measured (2026-11-29, runsc
 * 20221219): 63 sleeping processes took ~450 host tasks, 56 busy threads in 8 processes ~560, 31
 * processes with 2 busy threads each ~1,800 (multi-threaded processes cost most), 62 busy
 * single-threaded processes ~380. The guest's tasks are bounded by RLIMIT_NPROC instead; this limit is
 * the backstop that ends a sandbox whose gVisor grows past the usual (a Sentry panic, exit 2: the 31 × 2
 * case above, after 14 s) before it eats the host's pid space (pid_max is 32,768 on many hosts).
 * 16 × was too tight for a dash fork bomb at 64 tasks (`f() { f | f & }`: the Sentry panicked, exit 2,
 * three times of three); at 32 × the bomb meets EAGAIN and ends at the wall clock.
 */
export function runscHostTaskLimit(guestTasks: number): number {
  return 32 * guestTasks + 64;
}

/**
 * The Engine API (1.41) create body for a sandbox container. Every line is a security
 * invariant, each checked from inside a container by test/sandbox/hardening.docker.test.ts:
 * no network interface but loopback, read-only root, non-root user, no capabilities, no
 * privilege gain, Docker's default seccomp profile (never `unconfined`), pids/memory/CPU
 * limits, size-limited tmpfs for /tmp and /workspace, and no host path or socket mounted.
 */
export function hardenedContainerConfig(spec: HardenedContainerSpec): ContainerCreateOptions {
  if (!Number.isInteger(spec.uid) || spec.uid < 1000) throw new RangeError(`a sandbox user must be an unprivileged uid (>= 1000), got ${spec.uid}`);
  const memoryBytes = containerMemoryBytes(spec.limits);
  const runsc = spec.runtime === 'runsc';
  return {
    Image: spec.image,
    Cmd: [...spec.cmd],
    User: `${spec.uid}:${spec.uid}`,
    WorkingDir: '/workspace',
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: { [CORDON_SANDBOX_LABEL]: spec.sandboxId, [CORDON_RUNNER_LABEL]: spec.runnerId },
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    HostConfig: {
      Runtime: spec.runtime,
      // No interface but loopback: the only way out is the egress socket a later step mounts.
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      // Docker's default seccomp profile applies unless told otherwise; never say otherwise.
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: runsc ? runscHostTaskLimit(spec.limits.pids) : spec.limits.pids,
      // Under runsc the code's tasks are bounded inside gVisor: its kernel counts RLIMIT_NPROC per uid
      // per sandbox and fails fork/clone with EAGAIN, as Linux does. Never under runc: there the
      // kernel counts RLIMIT_NPROC per real uid across the whole host, so every uid-1000 sandbox
      // would share one count and one sandbox could starve another.
      ...(runsc ? { Ulimits: [{ Name: 'nproc', Soft: spec.limits.pids, Hard: spec.limits.pids }] } : {}),
      Memory: memoryBytes,
      // No swap beyond the memory limit: a memory bomb ends in the OOM killer, not in thrashing.
      // Under runsc the limit holds gVisor and all the code's memory, and gVisor (20221219) has no OOM
      // killer of its own: the host's kills the whole sandbox (exit 137) within about a second.
      MemorySwap: memoryBytes,
      NanoCpus: Math.round(spec.limits.cpus * 1e9),
      Tmpfs: {
        '/tmp': `rw,nosuid,nodev,noexec,size=${spec.limits.tmpMb}m,mode=1777`,
        // Executable, unlike /tmp: code builds and runs its own tools there, and Python loads the
        // compiled extensions pip installs (Docker mounts a tmpfs noexec unless told otherwise).
        '/workspace': `rw,exec,nosuid,nodev,size=${spec.limits.workspaceMb}m,uid=${spec.uid},gid=${spec.uid},mode=0700`,
      },
      // Nothing of the host but the sandbox's own sockets: no other binds, no volumes, no
      // devices, no Docker socket.
      Binds: spec.runDir === undefined ? [] : [`${spec.runDir}:/run/cordon:ro`],
      // docker-init as PID 1: orphans are reaped, and the container ends with its command.
      Init: true,
      Devices: [],
      IpcMode: 'private',
      PidMode: '',
      Privileged: false,
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}
