import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startCordonServer } from './cordon-server.ts';
import { percentile } from './stats.ts';

const ROUNDS = 12;
const WARMUP_ROUNDS = 2;
/** Between rounds (not measured): the python profile's pool starts its next container. */
const REFILL_MS = 2500;

async function call(url: string, token: string, method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/**
 * `sandbox_ready_p50_ms`: against a real `cordon serve` with the shipped `python` profile and its
 * warm pool, POST /v1/sandboxes, then the first `print(1)` in it, timed from the POST to the result.
 * The pool refills between rounds, as it would between sessions that do not all start at once.
 */
export async function runSandboxReadyBench(): Promise<Record<string, number>> {
  const server = await startCordonServer({ isolate: { hosts: 1 }, maxSessionsPerPrincipal: 4, profiles: ['python'] });
  try {
    const times: number[] = [];
    await sleep(REFILL_MS * 2);
    for (let i = 0; i < WARMUP_ROUNDS + ROUNDS; i++) {
      const token = await server.token();
      const t0 = performance.now();
      const created = await call(server.url, token, 'POST', '/v1/sandboxes', { profile: 'python' });
      if (created.status !== 201) throw new Error(`sandbox-ready bench: POST /v1/sandboxes answered ${created.status}: ${JSON.stringify(created.json)}`);
      const id = created.json.id as string;
      const ran = await call(server.url, token, 'POST', '/v1/invocations', { tool: 'code', input: { language: 'python', source: 'print(1)' }, sandbox: id });
      const elapsed = performance.now() - t0;
      if ((ran.json.output as { stdout?: string } | undefined)?.stdout !== '1\n') throw new Error(`sandbox-ready bench: the first call answered ${JSON.stringify(ran.json)}`);
      if (i >= WARMUP_ROUNDS) times.push(elapsed);
      await call(server.url, token, 'DELETE', `/v1/sandboxes/${id}`);
      await sleep(REFILL_MS);
    }
    return { sandbox_ready_p50_ms: percentile(times, 50), sandbox_ready_p90_ms: percentile(times, 90) };
  } finally {
    await server.stop();
  }
}
