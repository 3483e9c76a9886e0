import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ivm from 'isolated-vm';
import { Pool } from 'undici';
import { percentile } from './stats.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** The floor: isolated-vm create + eval + dispose, nothing else. */
async function rawIsolate(iterations: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    const isolate = new ivm.Isolate({ memoryLimit: 64 });
    const context = await isolate.createContext();
    await context.eval('1+1', { timeout: 1000 });
    isolate.dispose();
    times.push(performance.now() - t0);
  }
  return times;
}

interface Server {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** `cordon serve` in its own process, as deployed, with a throwaway data directory. */
async function startServer(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-'));
  const config = join(dir, 'cordon.yaml');
  writeFileSync(config, 'dataDir: data\nlog:\n  level: warn\nserver:\n  port: 0\nsandbox:\n  isolate:\n    maxConcurrent: 16\n    maxQueued: 1024\n    warmPoolSize: 4\n');
  const cli = join(ROOT, 'src', 'cli', 'main.ts');
  const child = spawn(process.execPath, ['--no-node-snapshot', cli, '--config', config, 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m?.[1] !== undefined) done(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`cordon serve exited with ${code}`)));
  });
  const token = await new Promise<string>((done, fail) => {
    const t = spawn(process.execPath, ['--no-node-snapshot', cli, '--config', config, 'token', '--agent', 'local'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    t.stdout.on('data', (d: Buffer) => (out += d.toString()));
    t.on('exit', (code) => (code === 0 ? done(out.trim()) : fail(new Error(`cordon token exited with ${code}`))));
  });
  return {
    url,
    token,
    async stop() {
      const exited = new Promise((done) => child.on('exit', done));
      if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function load(server: Server, concurrency: number, durationMs: number): Promise<{ latencies: number[]; elapsedMs: number; errors: number }> {
  const pool = new Pool(server.url, { connections: concurrency, pipelining: 1 });
  const body = JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '1+1' } });
  const headers = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await pool.request({ path: '/v1/invocations', method: 'POST', headers, body });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes('"value":2')) errors++;
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  await pool.close();
  return { latencies, elapsedMs, errors };
}

export async function runIsolateBench(durationSec: number): Promise<Record<string, number>> {
  const raw = await rawIsolate(300);
  const server = await startServer();
  try {
    await load(server, 4, 1000); // warm-up: JIT, pools, token cache
    const single = await load(server, 1, Math.max(2000, (durationSec * 1000) / 4));
    const loaded = await load(server, 16, durationSec * 1000);
    return {
      raw_isolate_p50_ms: percentile(raw, 50),
      raw_isolates_per_s: 1000 / (raw.reduce((a, b) => a + b, 0) / raw.length),
      isolate_invocation_p50_ms: percentile(loaded.latencies, 50),
      isolate_invocation_p99_ms: percentile(loaded.latencies, 99),
      isolate_invocations_per_s: loaded.latencies.length / (loaded.elapsedMs / 1000),
      isolate_invocation_errors: loaded.errors + single.errors,
      isolate_invocation_c1_p50_ms: percentile(single.latencies, 50),
      isolate_invocation_c1_p99_ms: percentile(single.latencies, 99),
    };
  } finally {
    await server.stop();
  }
}
