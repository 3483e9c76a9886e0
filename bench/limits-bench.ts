import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIsolateBackend, createSandboxIdentity, hostWorkspaceLeases, type CodeRunRequest } from '../src/sandbox/index.ts';
import { percentile } from './stats.ts';

/**
 * How far past its wall limit a call answers, for the three ways code can overrun:
 * a synchronous loop (isolated-vm's own timeout), a promise that never settles (the
 * host disposes the isolate) and a builtin V8 cannot interrupt (the supervisor kills
 * the host). The promise is limit + 250 ms; this measures it, rounds interleaved.
 */
const LIMIT_MS = 300;
const KINDS = {
  sync: 'while (true) {}',
  async: 'new Promise(() => {})',
  builtin: 'new Array(2 ** 28).fill(1).length',
} as const;

export async function runLimitsBench(rounds = 8): Promise<Record<string, number>> {
  const backend = createIsolateBackend({
    config: { hosts: 2, maxHosts: 8, maxHostsPerAgent: 2, hostMemoryMb: 1024, memoryCap: 'auto', warmIsolatesPerHost: 2, idleHostMs: 60_000, maxConcurrent: 4, maxQueued: 16 },
    warmMemoryMb: 64,
    caps: { outputBytes: 65536, resultBytes: 1 << 20, requestBytes: 1 << 20 },
    maxResponseBytes: 1 << 20,
    label: `bench-${process.pid}`,
    workspace: hostWorkspaceLeases(join(tmpdir(), `cordon-bench-workspaces-${process.pid}`), null),
  });
  const overrun: Record<string, number[]> = { sync: [], async: [], builtin: [] };
  const statuses = new Set<string>();
  try {
    // Wait for the spare hosts, so the first round does not measure a host start.
    await backend.create({ identity: identity(0), persistent: false, memoryMb: 64, egress: null }).then((s) => s.run(request('1')));
    for (let round = 0; round < rounds; round++) {
      for (const [kind, source] of Object.entries(KINDS)) {
        const sandbox = await backend.create({ identity: identity(round), persistent: false, memoryMb: 64, egress: null });
        const t0 = performance.now();
        try {
          const r = await sandbox.run(request(source));
          statuses.add(`${kind}:${r.status}`);
        } catch (err) {
          statuses.add(`${kind}:${(err as { code?: string }).code ?? 'thrown'}`);
        }
        overrun[kind]?.push(performance.now() - t0 - LIMIT_MS);
      }
    }
  } finally {
    await backend.close();
  }
  const out: Record<string, number> = {};
  for (const [kind, values] of Object.entries(overrun)) {
    out[`timeout_overrun_${kind}_p50_ms`] = percentile(values, 50);
    out[`timeout_overrun_${kind}_max_ms`] = Math.round(Math.max(...values) * 1000) / 1000;
  }
  // Every overrun must have ended as a timeout; anything else is a finding, printed as such.
  const unexpected = [...statuses].filter((s) => !s.endsWith(':timeout'));
  out.timeout_overrun_unexpected_outcomes = unexpected.length;
  if (unexpected.length > 0) process.stderr.write(`bench: limits: unexpected outcomes ${unexpected.join(', ')}\n`);
  return out;
}

function identity(_round: number) {
  const principal = { agent: 'bench', user: null, tokenId: 'bench', expiresAt: Math.ceil(Date.now() / 1000) + 60, scope: null };
  return createSandboxIdentity({ principal, profile: 'js', backend: 'isolate', egressPolicy: null, trustDomain: 'bench', lifetimeMs: 60_000, now: Date.now() });
}

function request(source: string): CodeRunRequest {
  return { language: 'javascript', source, memoryMb: 64, timeoutMs: LIMIT_MS, cpuTimeMs: LIMIT_MS, outputBytes: 65536, resultBytes: 1 << 20 };
}
