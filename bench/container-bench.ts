import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import {
  connectDocker,
  createContainerBackend,
  createSandboxIdentity,
  currentRunnerId,
  imageTag,
  loadImageRecipes,
  parseDockerHost,
  listCordonContainers,
  readDebianArchive,
  type CodeRunRequest,
  type CodeRunResult,
  type ContainerBackend,
  type ContainerProfileSettings,
  type ImageRecipe,
} from '../src/sandbox/index.ts';
import { BENCH_LABEL, dockerApiRun, dockerExec, dockerRun, PRINT_ONE, removeLabelled, startExecTarget } from './docker-baselines.ts';
import { traceEngine, type EngineMarks, type EngineTrace } from './engine-trace.ts';
import { runSandboxReadyBench } from './sandbox-ready-bench.ts';
import { percentile } from './stats.ts';

/**
 * Container sandboxes (issue 9) against what a user would do without Cordon, on the python
 * image, `print(1)` everywhere, per runtime. Slow paths alternate round by round with their
 * baselines (cold, docker run, API floor, cold, …) so the shared machine's noise hits each;
 * a ratio is the median of the per-round ratios. Every key has a p50 and a p90, in ms.
 *
 *   container_cold            per-call sandbox, no warm pool: create → first result → container removed
 *   docker_run_baseline       `docker run --rm --network none <image> python3 -c 'print(1)'` (CLI wall time)
 *   docker_api_hardened_run   the same work in a container hardened as the profile's, through the Engine
 *                             API (create, start, wait, remove): the floor under container_cold, by step
 *   container_warm            one run in a live python session sandbox (its interpreter already up)
 *   docker_exec               `docker exec <hardened container> python3 -c 'print(1)'` through the Engine API
 *   container_pooled_call     per-call sandbox from a warm pool of 1: create → result (removal not counted),
 *                             called as soon as the pool has refilled; `_settled`: 250 ms after
 *   container_cold_breakdown  where a cold call's time goes, from the backend's own engine calls
 *
 * runsc keys carry `runsc` (container_runsc_cold_p50_ms, docker_run_runsc_baseline_p50_ms, …).
 * Targets (issue 9): warm p50 ≤ 25 ms, pooled ≤ 50 ms, cold ≤ 1.1 × docker run.
 */
const COLD_ROUNDS = 15;
const WARM_ROUNDS = 20;
const POOLED_ROUNDS = 15;
const WARMUP_ROUNDS = 3;
const DOCKER_PING_TIMEOUT_MS = 5_000;
const POOL_REFILL_TIMEOUT_MS = 60_000;
/** Long enough for a pooled container's interpreter to finish booting (about 30 ms under runc). */
const SETTLE_MS = 250;

type Runtime = 'runc' | 'runsc';

/** Result keys per runtime; runsc measures cold, warm and its baseline. */
const KEYS = {
  runc: { cold: 'container_cold', run: 'docker_run_baseline', api: 'docker_api_hardened_run', coldRatio: 'container_cold_vs_docker_run', warm: 'container_warm', exec: 'docker_exec', warmRatio: 'container_warm_vs_exec', pooled: 'container_pooled_call' },
  runsc: { cold: 'container_runsc_cold', run: 'docker_run_runsc_baseline', api: 'docker_api_hardened_run_runsc', coldRatio: 'container_runsc_cold_vs_docker_run', warm: 'container_runsc_warm', exec: null, warmRatio: null, pooled: null },
} as const;

export async function runContainerBench(): Promise<Record<string, number | string>> {
  const docker = await connectDocker(parseDockerHost(process.env.DOCKER_HOST), DOCKER_PING_TIMEOUT_MS).catch(() => null);
  if (docker === null) return { container_bench: 'skipped: no Docker engine' };
  const recipe = loadImageRecipes().get('python') as ImageRecipe;
  const image = imageTag(recipe, readDebianArchive().suite);
  if ((await docker.getImage(image).inspect().then(() => true, () => false)) === false) {
    return { container_bench: `skipped: image ${image} is not built (run: node --no-node-snapshot src/cli/main.ts sandboxes build)` };
  }
  const runtimes = ((await docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {};
  const out: Record<string, number | string> = {};
  for (const runtime of ['runc', 'runsc'] as const) {
    if (!(runtime in runtimes)) {
      out[`container_${runtime}_bench`] = `skipped: the engine has no ${runtime} runtime`;
      continue;
    }
    process.stderr.write(`bench: container (${runtime})…\n`);
    Object.assign(out, await benchRuntime(docker, settingsFor(recipe, image, runtime), runtime));
  }
  process.stderr.write('bench: container (sandbox ready, through cordon serve)…\n');
  Object.assign(out, await runSandboxReadyBench());
  return out;
}

function settingsFor(recipe: ImageRecipe, image: string, runtime: Runtime): ContainerProfileSettings {
  return {
    profile: `bench-python-${runtime}`,
    image,
    runtime,
    uid: recipe.user.uid,
    env: {},
    // gVisor's guest counts its own tasks against the pids limit: the test profiles' numbers.
    limits: { cpus: 1, pids: runtime === 'runsc' ? 256 : 64, workspaceMb: 16, tmpMb: 8 },
    memoryMb: 128,
    warmPool: 0,
    languages: ['python', 'sh'],
  };
}

async function benchRuntime(docker: Docker, settings: ContainerProfileSettings, runtime: Runtime): Promise<Record<string, number>> {
  const keys = KEYS[runtime];
  const pooled: ContainerProfileSettings = { ...settings, profile: `${settings.profile}-pooled`, warmPool: 1 };
  const trace = traceEngine(docker);
  const runnerId = currentRunnerId();
  const tag = `${process.pid}-${runtime}`;
  const runDir = mkdtempSync(join(tmpdir(), 'cordon-bench-ctr-'));
  // The backend's start() is not called: it would sweep the shared engine for orphans, and
  // the pool fills on its first take anyway.
  const backend = createContainerBackend({
    docker: async () => trace.docker,
    profiles: new Map([settings, pooled].map((p) => [p.profile, p])),
    runDir,
    runnerId,
    config: { maxConcurrent: 4, maxQueued: 16, startTimeoutMs: 30_000, gcIntervalMs: 600_000, maxSessions: 16, maxSessionsPerAgent: 16 },
  });
  const out: Record<string, number> = {};
  let execTarget: Docker.Container | null = null;
  try {
    Object.assign(out, await coldVsRun(backend, trace, docker, settings, { runnerId, tag }, keys));
    if (keys.exec !== null) execTarget = await startExecTarget(docker, settings, runnerId, tag);
    Object.assign(out, await warmVsExec(backend, docker, execTarget, settings, keys));
    if (keys.pooled !== null) Object.assign(out, await pooledCalls(backend, pooled, keys.pooled));
  } finally {
    await execTarget?.remove({ force: true }).catch(() => {});
    await backend.close();
    // Whatever outlived close() (a docker run the CLI left, a pool start still under way) goes too.
    const ours = (await listCordonContainers(docker).catch(() => [])).filter((c) => c.runner === runnerId);
    await Promise.all(ours.map((c) => docker.getContainer(c.id).remove({ force: true }).catch(() => {})));
    const leftover = ours.length + (await removeLabelled(docker, `${BENCH_LABEL}=${tag}`).catch(() => 0));
    if (leftover > 0) process.stderr.write(`bench: container (${runtime}): removed ${leftover} container(s) left after close\n`);
    rmSync(runDir, { recursive: true, force: true });
  }
  return out;
}

/**
 * Cold per-call sandboxes, `docker run` and the hardened API floor, alternating round by round;
 * with a breakdown of each cold call and of each floor run.
 */
async function coldVsRun(backend: ContainerBackend, trace: EngineTrace, docker: Docker, settings: ContainerProfileSettings, owner: { runnerId: string; tag: string }, keys: (typeof KEYS)[Runtime]): Promise<Record<string, number>> {
  const cold: number[] = [];
  const run: number[] = [];
  const api: number[] = [];
  const ratio: number[] = [];
  const coldParts: Record<string, number[]> = {};
  const apiParts: Record<string, number[]> = {};
  for (let round = -WARMUP_ROUNDS; round < COLD_ROUNDS; round++) {
    const c = await coldCall(backend, trace, settings);
    const r = await dockerRun(settings.image, settings.runtime, owner.tag);
    const a = await dockerApiRun(docker, settings, owner.runnerId, owner.tag);
    if (round < 0) continue;
    cold.push(c.totalMs);
    run.push(r);
    ratio.push(c.totalMs / r);
    api.push(a.create + a.start + a.run + a.remove);
    for (const [part, ms] of Object.entries(c.parts)) (coldParts[part] ??= []).push(ms);
    for (const [part, ms] of Object.entries(a)) (apiParts[part] ??= []).push(ms);
  }
  const out: Record<string, number> = { ...p50p90(keys.cold, cold), ...p50p90(keys.run, run), [keys.coldRatio]: round3(percentile(ratio, 50)), ...p50p90(keys.api, api) };
  for (const [part, values] of Object.entries(coldParts)) out[`${keys.cold}_breakdown_${part}_p50_ms`] = percentile(values, 50);
  for (const [part, values] of Object.entries(apiParts)) out[`${keys.api}_breakdown_${part}_p50_ms`] = percentile(values, 50);
  return out;
}

interface ColdCall {
  readonly totalMs: number;
  /** Consecutive segments of the call's path (they add up to totalMs), plus the rename beside it. */
  readonly parts: Record<string, number>;
}

/**
 * One per-call sandbox from nothing. The segments, in order:
 *   before_create   run() → the engine's create call (limiter, run directory, executor socket)
 *   create          the engine creates the container
 *   start           the engine starts it
 *   executor_ready  started → the run request is sent: the executor's python starts and says
 *                   hello, then starts the session's interpreter (the `warm` op)
 *   first_run       the run request → its result: the fresh interpreter's own start, then print(1)
 *   remove          the result → the container is removed (the engine's force remove, the run directory)
 * and `rename` (the container named for its sandbox), which runs beside the call, not on its path.
 */
async function coldCall(backend: ContainerBackend, trace: EngineTrace, settings: ContainerProfileSettings): Promise<ColdCall> {
  const marks = trace.next();
  const t0 = performance.now();
  const sandbox = await backend.create({ identity: identity(settings.profile), persistent: false, memoryMb: settings.memoryMb, egress: null });
  const result = await sandbox.run(request());
  const tResult = performance.now();
  await sandbox.dispose();
  const tRemoved = performance.now();
  check(result, 'a cold call');
  const { create, start, rename } = marks as Required<EngineMarks>;
  if (create === undefined || start === undefined) throw new Error('container bench: a cold call made no container (was a pooled one taken?)');
  // The runner times the run itself, from the request sent to the reply read: the same clock.
  const sent = tResult - result.durationMs;
  const parts: Record<string, number> = {
    before_create: create.t0 - t0,
    create: create.t1 - create.t0,
    start: start.t1 - create.t1,
    executor_ready: sent - start.t1,
    first_run: result.durationMs,
    remove: tRemoved - tResult,
  };
  if (rename !== undefined) parts.rename = rename.t1 - rename.t0;
  return { totalMs: tRemoved - t0, parts };
}

/** Runs in a live session sandbox and, where measured, `docker exec` in a running hardened container, alternating. */
async function warmVsExec(backend: ContainerBackend, docker: Docker, target: Docker.Container | null, settings: ContainerProfileSettings, keys: (typeof KEYS)[Runtime]): Promise<Record<string, number>> {
  const session = await backend.create({ identity: identity(settings.profile), persistent: true, memoryMb: settings.memoryMb, egress: null });
  const warm: number[] = [];
  const exec: number[] = [];
  const ratio: number[] = [];
  try {
    // The first runs start the session's interpreter and page in the exec path.
    for (let round = -WARMUP_ROUNDS - 2; round < WARM_ROUNDS; round++) {
      const t0 = performance.now();
      check(await session.run(request()), 'a session call');
      const w = performance.now() - t0;
      const e = target === null ? null : await dockerExec(docker, target);
      if (round < 0) continue;
      warm.push(w);
      if (e !== null) {
        exec.push(e);
        ratio.push(w / e);
      }
    }
  } finally {
    await session.dispose();
  }
  const out = p50p90(keys.warm, warm);
  if (keys.exec !== null && keys.warmRatio !== null) Object.assign(out, p50p90(keys.exec, exec), { [keys.warmRatio]: round3(percentile(ratio, 50)) });
  return out;
}

/**
 * Per-call sandboxes from a pool of one: create → result, each call after the pool has
 * refilled (removal after, not counted). Alternating: at once when the pool reports its
 * container ready, and `settled`, after it has sat ready SETTLE_MS. The pool calls a container
 * ready when its executor has started the session's interpreter, not when that interpreter
 * has booted, so a call at once may wait out the boot. The breakdown (of calls at once):
 * `take` (create → the run request sent) and `run` (the request → its result, while the
 * refill's container starts beside it).
 */
async function pooledCalls(backend: ContainerBackend, settings: ContainerProfileSettings, key: string): Promise<Record<string, number>> {
  const now: number[] = [];
  const settled: number[] = [];
  const take: number[] = [];
  const run: number[] = [];
  const call = async (settleMs: number) => {
    await poolRefilled(backend);
    if (settleMs > 0) await sleep(settleMs);
    const t0 = performance.now();
    const sandbox = await backend.create({ identity: identity(settings.profile), persistent: false, memoryMb: settings.memoryMb, egress: null });
    const result = await sandbox.run(request());
    const ms = performance.now() - t0;
    await sandbox.dispose();
    check(result, 'a pooled call');
    return { ms, runMs: result.durationMs };
  };
  // The pool fills on its first take, which finds it empty and starts a container itself.
  await backend.create({ identity: identity(settings.profile), persistent: false, memoryMb: settings.memoryMb, egress: null }).then(async (s) => {
    check(await s.run(request()), 'a pooled call');
    await s.dispose();
  });
  for (let round = -WARMUP_ROUNDS; round < POOLED_ROUNDS; round++) {
    const a = await call(0);
    const b = await call(SETTLE_MS);
    if (round < 0) continue;
    now.push(a.ms);
    take.push(a.ms - a.runMs);
    run.push(a.runMs);
    settled.push(b.ms);
  }
  // Nothing left starting when the backend closes: its close() does not wait for a pool's start.
  await poolRefilled(backend);
  return {
    ...p50p90(key, now),
    [`${key}_breakdown_take_p50_ms`]: percentile(take, 50),
    [`${key}_breakdown_run_p50_ms`]: percentile(run, 50),
    ...p50p90(`${key}_settled`, settled),
  };
}

async function poolRefilled(backend: ContainerBackend): Promise<void> {
  const deadline = performance.now() + POOL_REFILL_TIMEOUT_MS;
  while ((backend.stats().containersWarm ?? 0) < 1) {
    if (performance.now() > deadline) throw new Error(`container bench: the warm pool did not refill within ${POOL_REFILL_TIMEOUT_MS} ms`);
    await sleep(5);
  }
}

function identity(profile: string) {
  const principal = { agent: 'bench', user: null, tokenId: 'bench', expiresAt: Math.ceil(Date.now() / 1000) + 600, scope: null };
  return createSandboxIdentity({ principal, profile, backend: 'container', egressPolicy: null, trustDomain: 'bench', lifetimeMs: 600_000, now: Date.now() });
}

function request(): CodeRunRequest {
  return { language: 'python', source: PRINT_ONE, memoryMb: 128, timeoutMs: 30_000, cpuTimeMs: 30_000, outputBytes: 64 * 1024, resultBytes: 64 * 1024 };
}

function check(result: CodeRunResult, what: string): void {
  if (result.status !== 'ok' || result.stdout !== '1\n') throw new Error(`container bench: ${what} ended ${result.status}: ${JSON.stringify((result.error?.message ?? result.stdout).slice(0, 200))}`);
}

function p50p90(key: string, values: readonly number[]): Record<string, number> {
  return { [`${key}_p50_ms`]: percentile(values, 50), [`${key}_p90_ms`]: percentile(values, 90) };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
