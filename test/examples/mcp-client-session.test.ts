import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from '../support/cli.ts';

// examples/mcp-client-session.ts as a user runs it: against a real `cordon serve` (the embedded
// default config: the agent `local`, its key made under ./.cordon), on the same Node 24.
const EXAMPLE = resolve(import.meta.dirname, '..', '..', 'examples', 'mcp-client-session.ts');

let cwd: string;
let serve: ServeProcess;
const started: ChildProcess[] = [];
beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-example-mcp-'));
  serve = await startServe(cwd, { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_LOG_LEVEL: 'warn' }, started);
}, 60_000);
afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
  rmSync(cwd, { recursive: true, force: true });
});

async function runExample(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--no-node-snapshot', EXAMPLE, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('examples/mcp-client-session.ts', () => {
  it('connects with a token it signs itself, lists the tools, runs code and shows a denial', async () => {
    const res = await runExample(['--url', serve.url, '--agent', 'local', '--key', join(cwd, '.cordon', 'agents', 'local.key')]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toBe(`connected to ${serve.url}/mcp as agent "local"`);
    // `local` may run code and work on files; it has no grant for the network tools.
    expect(lines[1]).toMatch(/^tools: code, file\.read, /);
    expect(lines[1]).not.toContain('browse.');
    expect(lines[2]).toBe('code: [1,4,9]');
    expect(lines[3]).toMatch(/^denied \(isError=true\): .*POLICY_DENIED/);
  }, 60_000);

  it('refuses a URL that is not on this machine, before connecting', async () => {
    const res = await runExample(['--url', 'http://cordon.example.test:7070', '--key', join(cwd, '.cordon', 'agents', 'local.key')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('this machine only');
  }, 30_000);
});
