import { request } from 'undici';
import { startCordonServer, type CordonServer } from './cordon-server.ts';
import { percentile } from './stats.ts';

/**
 * Hostile bodies on the unauthenticated token endpoint, against a real `cordon serve`:
 * the server's own CPU time per request (from /proc, so the client's work is not
 * counted) and how /healthz answers meanwhile. Target: < 50 ms of server CPU for a
 * 1 MiB form of repeated keys (it took 28 s for 120 KB before the linear parser).
 */
const MiB = 1024 * 1024;
const BODIES = {
  // Each just under the default 1 MiB body limit, so the parser answers, not the size check.
  repeated: 'grant_type=client_credentials&'.repeat(Math.floor((MiB - 1) / 30)),
  distinct: Array.from({ length: 90_000 }, (_, i) => `k${i}=1`).join('&').slice(0, MiB - 1),
  huge_value: `grant_type=client_credentials&client_assertion=${'x'.repeat(MiB - 100)}`,
} as const;

async function post(server: CordonServer, body: string): Promise<number> {
  const res = await request(`${server.url}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  await res.body.dump();
  return res.statusCode;
}

export async function runApiBench(rounds = 40): Promise<Record<string, number>> {
  const server = await startCordonServer({ isolate: { hosts: 1 }, maxSessionsPerPrincipal: 4 });
  const out: Record<string, number> = {};
  try {
    for (const [name, body] of Object.entries(BODIES)) {
      for (let i = 0; i < 3; i++) await post(server, body);
      const latencies: number[] = [];
      const cpuBefore = server.cpuMs();
      for (let i = 0; i < rounds; i++) {
        const t0 = performance.now();
        const status = await post(server, body);
        latencies.push(performance.now() - t0);
        if (status !== 400) throw new Error(`api bench: a ${name} form was answered ${status}, not 400`);
      }
      out[`api_form_${name}_1mib_server_cpu_ms`] = Math.round(((server.cpuMs() - cpuBefore) / rounds) * 1000) / 1000;
      out[`api_form_${name}_1mib_p50_ms`] = percentile(latencies, 50);
    }
    const healthz = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const res = await request(`${server.url}/healthz`);
        await res.body.dump();
        out.push(performance.now() - t0);
      }
      return out;
    };
    out.api_healthz_idle_p50_ms = percentile(await healthz(50), 50);
    // /healthz while four clients send the repeated-key form back to back (client and server share the machine).
    let flooding = true;
    const flood = Array.from({ length: 4 }, async () => {
      while (flooding) await post(server, BODIES.repeated);
    });
    const health = await healthz(50);
    flooding = false;
    await Promise.all(flood);
    out.api_healthz_during_form_flood_p50_ms = percentile(health, 50);
    out.api_healthz_during_form_flood_max_ms = percentile(health, 100);
  } finally {
    await server.stop();
  }
  return out;
}
