import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from '../support/cli.ts';

// `cordon serve` as deployed: its isolate hosts are its children, and none outlives it,
// whether it stops cleanly or is killed. Checked by PID.
let cwd: string;
const started: ChildProcess[] = [];

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-serve-'));
});
afterAll(() => {
  for (const c of started) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
  rmSync(cwd, { recursive: true, force: true });
});

/** Direct children of a process, from /proc (every thread's list). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // The thread ended while we looked.
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is gone for our purposes only once reaped; it no longer runs code either way.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function serve(): Promise<ServeProcess> {
  return startServe(cwd, { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_LOG_LEVEL: 'warn' }, started);
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('isolate hosts of cordon serve', () => {
  it.each([
    ['SIGTERM', 'a clean stop'],
    ['SIGKILL', 'a crash of the runner'],
  ] as const)('leaves no host behind after %s (%s)', async (signal, _why) => {
    const { child, url, token } = await serve();
    const res = await fetch(`${url}/v1/invocations`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ tool: 'code', input: { language: 'js', source: '1+1' } }) });
    expect(await res.json()).toMatchObject({ status: 'ok', output: { value: 2 } });
    const pid = child.pid as number;
    const hosts = childrenOf(pid);
    expect(hosts.length).toBeGreaterThan(0);
    for (const h of hosts) expect(readFileSync(`/proc/${h}/cmdline`, 'utf8')).toContain('isolate-host-main.ts');
    const exited = new Promise((done) => child.on('exit', done));
    process.kill(pid, signal);
    await exited;
    expect(await waitFor(() => hosts.every((h) => !alive(h)), 5000), `hosts still running: ${hosts.filter(alive).join(', ')}`).toBe(true);
  });
});
