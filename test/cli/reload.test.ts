import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServe, type ServeProcess } from '../support/cli.ts';

// `cordon reload` and SIGHUP against a real `cordon serve` this file starts (and only that one:
// every signal here goes to a child of this test, by PID).
const ROOT = resolve(import.meta.dirname, '..', '..');
const started: ChildProcess[] = [];
const dirs: string[] = [];
let cwd: string;
let served: ServeProcess;
let log = '';

/** A folder with its own cordon.yaml and copies of the shipped Cedar and egress policies. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-reload-'));
  dirs.push(dir);
  cpSync(join(ROOT, 'policies'), join(dir, 'policies'), { recursive: true });
  cpSync(join(ROOT, 'egress-policies'), join(dir, 'egress'), { recursive: true });
  writeFileSync(join(dir, 'cordon.yaml'), ['dataDir: data', 'policyDir: policies', 'egress:', '  policyDir: egress', 'agents:', '  - id: local', '    createKey: true', ''].join('\n'));
  return dir;
}

const env = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_LOG_LEVEL: 'info' });

beforeAll(async () => {
  cwd = project();
  served = await startServe(cwd, env(), started);
  served.child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
});
afterAll(() => {
  for (const c of started) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function policySet(): Promise<string> {
  return ((await (await request(`${served.url}/healthz`)).body.json()) as { policySet: string }).policySet;
}

async function runCode(): Promise<number> {
  const res = await request(`${served.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${served.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '6*7' } }),
  });
  await res.body.dump();
  return res.statusCode;
}

/** The server's reload status once its generation passes `after` (polled by count, not by time). */
async function statusAfter(after: number): Promise<{ ok: boolean; generation: number; policyVersion: string; problems: { file: string | null; reason: string }[] }> {
  for (let i = 0; i < 600; i++) {
    try {
      const s = JSON.parse(readFileSync(join(cwd, 'data', 'reload-status.json'), 'utf8')) as { ok: boolean; generation: number; policyVersion: string; problems: { file: string | null; reason: string }[] };
      if (s.generation > after) return s;
    } catch {
      // Not written yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the server never reported the reload');
}

const generation = (): number => {
  try {
    return (JSON.parse(readFileSync(join(cwd, 'data', 'reload-status.json'), 'utf8')) as { generation: number }).generation;
  } catch {
    return 0;
  }
};

const FORBID = '@id("no-code-for-local")\nforbid (principal == Agent::"local", action == Action::"code.exec", resource);\n';

// Each case runs the CLI (a Node start-up each) several times.
describe('cordon reload against a running server', { timeout: 90_000 }, () => {
  it('applies an edited policy: prints the new policy set, and the decision changes', async () => {
    const rule = join(cwd, 'policies', 'no-code.cedar');
    try {
      expect(await runCode()).toBe(200);
      writeFileSync(rule, FORBID);
      const r = await runCli(cwd, ['reload'], { env: env() });
      expect(r.code, r.stderr).toBe(0);
      const version = await policySet();
      expect(r.stdout).toContain(`policy set ${version}`);
      expect(r.stdout).toContain('Cedar policies added: no-code-for-local');
      expect(await runCode()).toBe(403);
    } finally {
      rmSync(rule, { force: true });
      expect((await runCli(cwd, ['reload'], { env: env() })).code).toBe(0);
    }
    expect(await runCode()).toBe(200);
  });

  it('refuses a bad file: exits 3 naming it, and the server keeps serving the old set', async () => {
    const before = await policySet();
    const bad = join(cwd, 'policies', 'broken.cedar');
    try {
      writeFileSync(bad, FORBID + '@id("half")\npermit (principal, action, resource\n');
      const r = await runCli(cwd, ['reload'], { env: env() });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`${bad}:`);
      const json = await runCli(cwd, ['reload', '--json'], { env: env() });
      expect(json.code).toBe(3);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: [expect.objectContaining({ file: bad })] });
      expect(await policySet()).toBe(before);
      expect(await runCode()).toBe(200);
    } finally {
      rmSync(bad, { force: true });
    }
  });

  it('reloads on SIGHUP (sent to the serve process this test started), and logs the outcome in one line', async () => {
    const before = await policySet();
    const rule = join(cwd, 'policies', 'no-code.cedar');
    try {
      writeFileSync(rule, FORBID);
      const gen = generation();
      process.kill(served.child.pid ?? 0, 'SIGHUP');
      const status = await statusAfter(gen);
      expect(status.ok).toBe(true);
      expect(status.policyVersion).not.toBe(before);
      expect(await policySet()).toBe(status.policyVersion);
      expect(await runCode()).toBe(403);
      expect(log).toMatch(/"generation":\d+.*"msg":"reload applied: .*Cedar policies added: no-code-for-local/);
    } finally {
      rmSync(rule, { force: true });
      const gen = generation();
      process.kill(served.child.pid ?? 0, 'SIGHUP');
      expect((await statusAfter(gen)).ok).toBe(true);
    }
    expect(await policySet()).toBe(before);
  });

  it.each([
    ['a Cedar file that does not parse', (p: string) => writeFileSync(p, '@id("half")\npermit (principal, action, resource\n'), 'broken.cedar', /unexpected end of input/],
    ['a FIFO', (p: string) => execFileSync('mkfifo', [p]), 'pipe.cedar', /not a regular file/],
    ['a symlink to /dev/zero', (p: string) => symlinkSync('/dev/zero', p), 'zero.cedar', /not a regular file/],
    ['a huge file', (p: string) => writeFileSync(p, `// ${'x'.repeat(2 * 1024 * 1024)}\n`), 'huge.cedar', /over the 1048576-byte limit/],
  ])('a SIGHUP with %s in the policy folder is refused naming it; the server keeps serving', async (_name, make, name, reason) => {
    const before = await policySet();
    const path = join(cwd, 'policies', name);
    try {
      make(path);
      const gen = generation();
      process.kill(served.child.pid ?? 0, 'SIGHUP');
      const status = await statusAfter(gen);
      expect(status.ok).toBe(false);
      expect(status.problems).toContainEqual(expect.objectContaining({ file: path, reason: expect.stringMatching(reason) }));
      expect(status.policyVersion).toBe(before);
      expect(log).toContain(`reload refused, still serving policy set ${before}`);
      expect(served.child.exitCode).toBe(null);
      expect(await runCode()).toBe(200);
    } finally {
      rmSync(path, { force: true });
    }
  });
});

describe('the audit log of a server that reloaded', { timeout: 90_000 }, () => {
  it('holds a config record per reload, applied or refused, and still verifies', async () => {
    const gen = generation();
    process.kill(served.child.pid ?? 0, 'SIGHUP');
    await statusAfter(gen);
    const tail = await runCli(cwd, ['audit', 'tail', '-n', '200', '--json'], { env: env() });
    expect(tail.code, tail.stderr).toBe(0);
    const records = tail.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; outcome: string; reload?: { generation: number } });
    expect(records.filter((r) => r.kind === 'config').map((r) => r.reload?.generation)).toContain(gen + 1);
    const verify = await runCli(cwd, ['audit', 'verify'], { env: env() });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('cordon reload without a server', { timeout: 90_000 }, () => {
  it('says no server runs (exit 7) when the files are valid', async () => {
    const dir = project();
    const r = await runCli(dir, ['reload'], { env: env() });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('no cordon serve is running for data directory');
  });

  it('still names a bad file first (exit 3)', async () => {
    const dir = project();
    writeFileSync(join(dir, 'egress', 'bad.yaml'), 'name: bad\nmode: sometimes\n');
    const r = await runCli(dir, ['reload'], { env: env() });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(join(dir, 'egress', 'bad.yaml'));
  });

  it('never signals a process a pid file names unless it is that server (pid reused, or garbage)', async () => {
    const dir = project();
    mkdirSync(join(dir, 'data'), { recursive: true });
    // A process of this test's own: SIGHUP would end it.
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    started.push(sleeper);
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    for (const content of [JSON.stringify({ pid: sleeper.pid, runner: `${bootId}:${sleeper.pid}:1` }), JSON.stringify({ pid: sleeper.pid, runner: 'x' }), 'not json', '{"pid": 1, "runner": "a:1:1"}']) {
      writeFileSync(join(dir, 'data', 'serve.pid'), content);
      const r = await runCli(dir, ['reload'], { env: env() });
      expect(r.code, content).toBe(7);
      // Still running: not a zombie, not reaped (a SIGHUP would have ended it before the CLI exited).
      expect(readFileSync(`/proc/${sleeper.pid}/status`, 'utf8')).not.toMatch(/^State:\s+Z/m);
      expect(sleeper.signalCode).toBe(null);
    }
  });

  it('explains itself in --help: what is reloaded, how the server is found, the exit codes', async () => {
    const r = await runCli(project(), ['reload', '--help'], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SIGHUP');
    expect(r.stdout).toContain('serve.pid');
    expect(r.stdout).toMatch(/7 no server runs/);
  });

  it('refuses a bad --wait-ms as a usage error', async () => {
    const r = await runCli(project(), ['reload', '--wait-ms', '-5'], { env: env() });
    expect(r.code).toBe(2);
  });
});
