import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { currentRunnerId } from '../../src/sandbox/index.ts';
import { startServe, type ServeProcess } from '../support/cli.ts';
import { testDocker } from '../support/container-sandbox.ts';
import { describeWith } from '../support/infrastructure.ts';

// Issue 9: a runner killed with SIGKILL leaves its containers behind; the next runner to
// start removes them before it answers. And a clean stop removes its own.
let cwd: string;
const started: ChildProcess[] = [];

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-serve-ctr-'));
});
afterAll(async () => {
  for (const c of started) {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((done) => c.on('exit', done));
    process.kill(c.pid, 'SIGTERM');
    await exited;
  }
  rmSync(cwd, { recursive: true, force: true });
});

async function serve(): Promise<ServeProcess & { runner: string }> {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_LOG_LEVEL: 'warn', ...(process.env.DOCKER_HOST === undefined ? {} : { DOCKER_HOST: process.env.DOCKER_HOST }) };
  const served = await startServe(cwd, env, started);
  return { ...served, runner: currentRunnerId(served.child.pid) };
}

async function containersOf(runner: string): Promise<string[]> {
  const list = (await testDocker?.listContainers({ all: true, filters: JSON.stringify({ label: [`cordon.runner=${runner}`] }) })) ?? [];
  return list.map((c) => c.Id);
}

describeWith('a Docker engine', testDocker !== null, 'containers of cordon serve', () => {
  it('a runner killed with SIGKILL leaves containers; the next one to start removes them before it answers', async () => {
    const first = await serve();
    const res = await fetch(`${first.url}/v1/sandboxes`, { method: 'POST', headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ profile: 'python' }) });
    expect(res.status).toBe(201);
    const left = await containersOf(first.runner);
    // The session's container, and any the warm pool started.
    expect(left.length).toBeGreaterThan(0);
    const exited = new Promise((done) => first.child.on('exit', done));
    process.kill(first.child.pid as number, 'SIGKILL');
    await exited;

    // (Another test's runner starting meanwhile may remove them first, as it should.)
    const second = await serve();
    expect(await containersOf(first.runner)).toEqual([]);

    // A clean stop removes its own (its warm pool's) containers.
    const stopped = new Promise((done) => second.child.on('exit', done));
    process.kill(second.child.pid as number, 'SIGTERM');
    await stopped;
    // A stop waits up to 10 s for the engine; on a loaded machine the engine may finish after.
    let remaining = await containersOf(second.runner);
    for (let i = 0; i < 60 && remaining.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      remaining = await containersOf(second.runner);
    }
    expect(remaining).toEqual([]);
  }, 120_000);
});
