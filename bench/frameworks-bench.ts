import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { request } from 'undici';
import { Cordon } from '../src/client/index.ts';
import { startCordonServer } from './cordon-server.ts';
import { percentile } from './stats.ts';

/**
 * What a framework pays to reach a tool through each of Cordon's front doors, against the
 * plain HTTP call, in the same interleaved rounds on one real `cordon serve`:
 * - MCP `tools/call` through the official client SDK (Streamable HTTP, bearer token);
 * - the TypeScript client's `run()` (it signs its own tokens);
 * - `POST /v1/invocations` with undici and a ready token (the floor).
 * The work is the lightest call the pipeline serves, `code` "1" in a per-call sandbox,
 * so the ratios show the door's own cost on top of auth, policy, sandbox and audit.
 */
const median = (values: readonly number[]) => percentile(values, 50);
const ratio = (a: readonly number[], b: readonly number[]) => median(a.map((v, i) => v / (b[i] ?? Number.NaN)));
const INPUT = { language: 'js', source: '1' };
/** Longest the whole suite may take: a stuck step is reported, never waited on forever. */
const SUITE_DEADLINE_MS = 180_000;

/** `work`, or an error naming `what` once `ms` have passed. */
async function bounded<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`frameworks bench: ${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function runFrameworksBench(rounds = 60): Promise<Record<string, number>> {
  return bounded('the suite', SUITE_DEADLINE_MS, measure(rounds));
}

async function measure(rounds: number): Promise<Record<string, number>> {
  process.stderr.write('bench: frameworks: starting cordon serve\n');
  const server = await startCordonServer({ isolate: { hosts: 1 }, maxSessionsPerPrincipal: 4 });
  const mcp = new Client({ name: 'cordon-bench', version: '1.0.0' });
  const cordon = new Cordon({ url: server.url, agent: { id: 'local', privateKey: readFileSync(join(server.dataDir, 'agents', 'local.key'), 'utf8') } });
  try {
    process.stderr.write(`bench: frameworks: connecting to ${server.url}/mcp\n`);
    await bounded('MCP connect', 30_000, mcp.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { authProvider: { token: () => server.token() } })));
    const api = async () => {
      const res = await request(`${server.url}/v1/invocations`, { method: 'POST', headers: { authorization: `Bearer ${await server.token()}`, 'content-type': 'application/json' }, body: JSON.stringify({ tool: 'code', input: INPUT }) });
      const json = (await res.body.json()) as { status?: string };
      if (res.statusCode !== 200 || json.status !== 'ok') throw new Error(`frameworks bench: the API answered ${res.statusCode}: ${JSON.stringify(json).slice(0, 300)}`);
    };
    const viaMcp = async () => {
      const r = await mcp.callTool({ name: 'code', arguments: INPUT });
      if (r.isError === true) throw new Error(`frameworks bench: MCP answered an error: ${JSON.stringify(r).slice(0, 300)}`);
    };
    const viaClient = async () => {
      const r = await cordon.run('code', INPUT);
      if (r.status !== 'ok') throw new Error(`frameworks bench: the client got ${JSON.stringify(r).slice(0, 300)}`);
    };
    const timed = async (fn: () => Promise<void>) => {
      const t0 = performance.now();
      await fn();
      return performance.now() - t0;
    };
    for (let i = 0; i < 5; i++) {
      await api();
      await viaMcp();
      await viaClient();
    }
    const floor: number[] = [];
    const mcpMs: number[] = [];
    const clientMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      floor.push(await timed(api));
      mcpMs.push(await timed(viaMcp));
      clientMs.push(await timed(viaClient));
    }
    return {
      api_code_call_p50_ms: median(floor),
      mcp_tools_call_p50_ms: median(mcpMs),
      client_run_p50_ms: median(clientMs),
      mcp_vs_api_ratio: Math.round(ratio(mcpMs, floor) * 1000) / 1000,
      client_vs_api_ratio: Math.round(ratio(clientMs, floor) * 1000) / 1000,
    };
  } finally {
    await bounded('closing the MCP client', 10_000, mcp.close()).catch(() => undefined);
    await bounded('closing the client', 10_000, cordon.close()).catch(() => undefined);
    await server.stop();
  }
}
