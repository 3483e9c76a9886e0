import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { startCordonServer, type CordonServer } from './cordon-server.ts';
import { rawLatencies, rawRate, rawRateThreads } from './raw-isolate-floor.ts';
import { startHttpEcho } from './http-echo-server.ts';
import { percentile } from './stats.ts';

/**
 * Isolate benchmarks: a real `cordon serve` child process over loopback HTTP,
 * against a floor measured in this process in the same run. The machine is
 * small and shared, so the floor and the path alternate round by round (floor,
 * path, floor, path, …) and a ratio is the median of the per-round ratios; the
 * raw keys are medians of the per-round values.
 *
 *   raw_isolate_p50_ms            isolated-vm create + context + eval('1+1') + dispose, one at a time
 *   raw_isolates_per_s            the same in a loop on one thread
 *   raw_isolates_per_s_2_threads  the same on two worker threads at once: bare isolated-vm on both cores
 *   isolate_invocation_c1_p50_ms  POST /v1/invocations {tool: code, source: 1+1}, one at a time
 *   isolate_invocations_per_s     the same from CONCURRENCY clients at once
 *   session_call_p50_ms           a call into a live `js` session sandbox
 *   http_floor_p50_ms             a POST of the same body to a bare node:http server in its own process
 *   sandbox_create_p50_ms         POST /v1/sandboxes {profile: js} (each deleted after, untimed)
 *   host_crash_recovery_ms        the agent's isolate hosts SIGKILLed → its next call that succeeds
 *   host_crash_all_recovery_ms    every isolate host SIGKILLed (spares too) → the agent's next successful call
 *   rss_mb_200_sessions           VmRSS of the server + all its isolate hosts, 200 live sessions of one agent
 */
const ROUNDS = 7;
const C1_CALLS = 150;
const RATE_MS = 1500;
const CONCURRENCY = 16;
/** The shipped policy chain-session-call-budget stops a session at 500 calls; warm-up and timed calls stay under it. */
const SESSION_WARMUP = 20;
const SESSION_CALLS = 400;
const CREATES = 150;
const RSS_SESSIONS = 200;
const CRASH_ROUNDS = 5;
/** Unowned hosts the pool keeps ready; the agent's own hosts are the older ones. */
const SPARES = 2;
const HOSTS_PER_AGENT = 2;

const CODE_BODY = JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '1+1' } });
const SESSION_SOURCE = "x = (typeof x === 'number' ? x : 0) + 1";

/** One kept-alive connection per concurrent client, the same token for every request. */
class Api {
  private readonly pool: Pool;
  private headers: Record<string, string> = {};
  private readonly server: CordonServer;
  constructor(server: CordonServer) {
    this.server = server;
    this.pool = new Pool(server.url, { connections: CONCURRENCY, pipelining: 1 });
  }

  async refreshToken(): Promise<void> {
    this.headers = { authorization: `Bearer ${await this.server.token()}`, 'content-type': 'application/json' };
  }

  async request(method: 'POST' | 'DELETE', path: string, body?: string): Promise<{ status: number; text: string }> {
    const res = await this.pool.request({ path, method, headers: method === 'POST' ? this.headers : { authorization: this.headers.authorization ?? '' }, ...(body === undefined ? {} : { body }) });
    return { status: res.statusCode, text: await res.body.text() };
  }

  /** A `code` call answered 200 with the value 2; false for anything else. */
  async code(): Promise<boolean> {
    const res = await this.request('POST', '/v1/invocations', CODE_BODY);
    return res.status === 200 && res.text.includes('"value":2');
  }

  async mustCode(): Promise<void> {
    if (!(await this.code())) throw new Error('a code call failed');
  }

  async createSandbox(): Promise<string> {
    const res = await this.request('POST', '/v1/sandboxes', JSON.stringify({ profile: 'js' }));
    if (res.status !== 201) throw new Error(`POST /v1/sandboxes answered ${res.status}: ${res.text.slice(0, 300)}`);
    return (JSON.parse(res.text) as { id: string }).id;
  }

  async deleteSandbox(id: string): Promise<void> {
    const res = await this.request('DELETE', `/v1/sandboxes/${id}`);
    if (res.status !== 204) throw new Error(`DELETE /v1/sandboxes/${id} answered ${res.status}: ${res.text.slice(0, 300)}`);
  }

  /** One call in a session sandbox; returns the value it answered. */
  async sessionCall(id: string): Promise<number> {
    const res = await this.request('POST', '/v1/invocations', JSON.stringify({ tool: 'code', input: { language: 'javascript', source: SESSION_SOURCE }, sandbox: id }));
    if (res.status !== 200) throw new Error(`session call answered ${res.status}: ${res.text.slice(0, 300)}`);
    return (JSON.parse(res.text) as { output: { value: number } }).output.value;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

async function callLatencies(api: Api, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await api.mustCode();
    times.push(performance.now() - t0);
  }
  return times;
}

async function callRate(api: Api, concurrency: number, ms: number): Promise<{ perSec: number; latencies: number[] }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - t0 < ms) {
        const s = performance.now();
        await api.mustCode();
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { perSec: (latencies.length / (performance.now() - t0)) * 1000, latencies };
}

const median = (xs: number[]): number => percentile(xs, 50);
const round = (x: number, digits: number): number => Number(x.toFixed(digits));

export async function runIsolateBench(): Promise<Record<string, number | string>> {
  const server = await startCordonServer({
    // As shipped on a 2-core machine (hosts and maxHostsPerAgent default to the core count),
    // with a queue deep enough that the bench never sees a 429. The bench's one agent may use
    // every slot (by default an agent gets half): it measures the machine, not the share.
    isolate: { hosts: SPARES, maxHostsPerAgent: HOSTS_PER_AGENT, maxConcurrent: CONCURRENCY, maxQueued: 1024, maxConcurrentPerAgent: CONCURRENCY, maxQueuedPerAgent: 1024 },
    maxSessionsPerPrincipal: RSS_SESSIONS + 10,
  });
  const api = new Api(server);
  try {
    await api.refreshToken();
    // Warm-up, untimed: JIT on both sides, the agent takes its hosts, the token is cached.
    await rawLatencies(100);
    await callRate(api, CONCURRENCY, 1000);
    await callLatencies(api, 100);
    return {
      ...(await latencyAndRate(api)),
      ...(await sessionCalls(api)),
      ...(await sandboxCreates(api)),
      ...(await sessionsRss(api, server)),
      ...(await crashRecovery(api, server)),
    };
  } finally {
    await api.close();
    await server.stop();
  }
}

/** c1 latency and c16 rate against the raw floor, interleaved round by round. */
async function latencyAndRate(api: Api): Promise<Record<string, number>> {
  const raw = { p50: [] as number[], rate: [] as number[], rate2: [] as number[] };
  const path = { c1: [] as number[], rate: [] as number[], c16p50: [] as number[], c16p99: [] as number[] };
  const ratio = { c1: [] as number[], rate: [] as number[], rate2: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    process.stderr.write(`bench: isolate round ${r + 1}/${ROUNDS}\n`);
    await api.refreshToken();
    const rawP50 = median(await rawLatencies(C1_CALLS));
    const c1P50 = median(await callLatencies(api, C1_CALLS));
    const rawPerSec = await rawRate(RATE_MS);
    const loaded = await callRate(api, CONCURRENCY, RATE_MS);
    const rawTwoThreads = await rawRateThreads(2, RATE_MS);
    raw.rate2.push(rawTwoThreads);
    ratio.rate2.push(loaded.perSec / rawTwoThreads);
    raw.p50.push(rawP50);
    raw.rate.push(rawPerSec);
    path.c1.push(c1P50);
    path.rate.push(loaded.perSec);
    path.c16p50.push(percentile(loaded.latencies, 50));
    path.c16p99.push(percentile(loaded.latencies, 99));
    ratio.c1.push(c1P50 / rawP50);
    ratio.rate.push(loaded.perSec / rawPerSec);
  }
  return {
    isolate_rounds: ROUNDS,
    raw_isolate_p50_ms: round(median(raw.p50), 3),
    isolate_invocation_c1_p50_ms: round(median(path.c1), 3),
    isolate_c1_vs_raw_ratio: round(median(ratio.c1), 3),
    raw_isolates_per_s: round(median(raw.rate), 0),
    isolate_invocations_per_s: round(median(path.rate), 0),
    isolate_rate_vs_raw_ratio: round(median(ratio.rate), 3),
    raw_isolates_per_s_2_threads: round(median(raw.rate2), 0),
    isolate_rate_vs_raw_2_threads_ratio: round(median(ratio.rate2), 3),
    isolate_invocation_c16_p50_ms: round(median(path.c16p50), 3),
    isolate_invocation_c16_p99_ms: round(median(path.c16p99), 3),
  };
}

/** Session calls in rounds, each after as many POSTs to a bare HTTP server in its own process (the HTTP floor). */
async function sessionCalls(api: Api): Promise<Record<string, number>> {
  await api.refreshToken();
  const echo = await startHttpEcho();
  const echoPool = new Pool(echo.url, { connections: 1, pipelining: 1 });
  const body = JSON.stringify({ tool: 'code', input: { language: 'javascript', source: SESSION_SOURCE }, sandbox: 'sbx_0000000000000000000000000' });
  const echoCall = async () => {
    const res = await echoPool.request({ path: '/v1/invocations', method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.body.text();
  };
  const id = await api.createSandbox();
  try {
    for (let i = 1; i <= SESSION_WARMUP; i++) {
      if ((await api.sessionCall(id)) !== i) throw new Error('the session sandbox lost its globals');
      await echoCall();
    }
    const session: number[] = [];
    const floor: number[] = [];
    const perRound = Math.floor(SESSION_CALLS / ROUNDS);
    let expected = SESSION_WARMUP;
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < perRound; k++) {
        const t0 = performance.now();
        await echoCall();
        floor.push(performance.now() - t0);
      }
      for (let k = 0; k < perRound; k++) {
        const t0 = performance.now();
        const value = await api.sessionCall(id);
        session.push(performance.now() - t0);
        if (value !== ++expected) throw new Error('the session sandbox lost its globals');
      }
    }
    return { session_call_p50_ms: round(median(session), 3), session_call_p99_ms: round(percentile(session, 99), 3), http_floor_p50_ms: round(median(floor), 3) };
  } finally {
    await api.deleteSandbox(id);
    await echoPool.close();
    await echo.stop();
  }
}

async function sandboxCreates(api: Api): Promise<Record<string, number>> {
  await api.refreshToken();
  const times: number[] = [];
  for (let i = 0; i < CREATES; i++) {
    const t0 = performance.now();
    const id = await api.createSandbox();
    times.push(performance.now() - t0);
    await api.deleteSandbox(id);
  }
  return { sandbox_create_p50_ms: round(median(times), 3), sandbox_create_p99_ms: round(percentile(times, 99), 3) };
}

async function sessionsRss(api: Api, server: CordonServer): Promise<Record<string, number>> {
  await api.refreshToken();
  await sleep(1000);
  const idle = server.rssMb();
  const ids: string[] = [];
  try {
    for (let i = 0; i < RSS_SESSIONS; i++) {
      const id = await api.createSandbox();
      ids.push(id);
      if ((await api.sessionCall(id)) !== 1) throw new Error('a new session sandbox did not start from scratch');
    }
    await sleep(1000);
    return { rss_mb_idle: round(idle, 1), rss_mb_200_sessions: round(server.rssMb(), 1), isolate_hosts_200_sessions: server.hostPids().length };
  } finally {
    for (const id of ids) await api.deleteSandbox(id);
  }
}

/**
 * SIGKILL by PID, then calls by the same agent until one succeeds. What we
 * measure is that call succeeding, not the pool being whole again.
 */
async function crashRecovery(api: Api, server: CordonServer): Promise<Record<string, number>> {
  const times = { agent: [] as number[], all: [] as number[] };
  let notAgents = 0;
  // The agent's rounds first: after every host died, the agent's new host starts after the new
  // spares, and "the oldest hosts are the agent's" no longer holds.
  for (const which of ['agent', 'all'] as const) {
    for (let r = 0; r < CRASH_ROUNDS; r++) {
      await api.refreshToken();
      await settle(api, server);
      const pids = server.hostPids();
      // The pool starts a spare each time it hands one to an agent, so the spares are the newest hosts.
      const victims = which === 'all' ? pids : pids.slice(0, Math.max(0, pids.length - SPARES));
      if (victims.length === 0) throw new Error('no isolate host to kill');
      const t0 = performance.now();
      for (const pid of victims) process.kill(pid, 'SIGKILL');
      for (;;) {
        if (await api.code().catch(() => false)) break;
        if (performance.now() - t0 > 30_000) throw new Error('no call succeeded within 30 s of killing the isolate hosts');
        await sleep(1);
      }
      times[which].push(performance.now() - t0);
      if (which === 'agent') {
        // Check, from the server's own log, that every host we killed was the agent's and no spare.
        const deadline = performance.now() + 5000;
        while (victims.some((p) => !server.hostExits.has(p)) && performance.now() < deadline) await sleep(20);
        notAgents += victims.filter((p) => server.hostExits.get(p) !== 'local').length;
      }
    }
  }
  return { host_crash_recovery_ms: round(median(times.agent), 1), host_crash_all_recovery_ms: round(median(times.all), 1), host_crash_spares_hit: notAgents };
}

/** Until the spares are back and every host has gone quiet (booted, warm isolates made). */
async function settle(api: Api, server: CordonServer): Promise<void> {
  const deadline = performance.now() + 15_000;
  await api.mustCode();
  let last = '';
  while (performance.now() < deadline) {
    const pids = server.hostPids();
    const now = pids.map((p) => `${p}:${cpuTicks(p)}`).join(',');
    if (pids.length > SPARES && now === last) return;
    last = now;
    await sleep(300);
  }
  throw new Error('the isolate hosts did not settle within 15 s');
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return -1;
  }
}
