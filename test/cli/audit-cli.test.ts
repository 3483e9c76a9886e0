import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, type CliRun } from '../support/cli.ts';

// The audit log a real `cordon run` writes is a hash chain `cordon audit verify` checks.
let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-audit-cli-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const cordon = (args: string[]): Promise<CliRun> => runCli(cwd, args);

describe('cordon audit verify', { timeout: 60_000 }, () => {
  it('verifies the chain that runs wrote, across processes, and finds a record edited after the fact', async () => {
    expect((await cordon(['run', 'code', '--lang', 'js', '1+1'])).code).toBe(0);
    expect((await cordon(['run', 'code', '--lang', 'js', 'nope('])).code).toBe(1);
    const ok = await cordon(['audit', 'verify']);
    // Each call is two records: `started` before its sandbox ran, then its result.
    expect(ok).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ok: 4 records in .*audit\.jsonl; head seq 4 [0-9a-f]{64}; checked against 1 signed checkpoint\(s\), latest of 4 records\n$/) as string });
    const log = join(cwd, '.cordon', 'audit', 'audit.jsonl');
    // Someone rewrites a failed call as a success.
    writeFileSync(log, readFileSync(log, 'utf8').replace('"outcome":"error"', '"outcome":"ok"'));
    const bad = await cordon(['audit', 'verify', '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, records: 4, problems: [{ file: log, line: 4, seq: 4, kind: 'edited' }] });
  });

  it('says where a runner writes its log when there is none', async () => {
    const r = await cordon(['audit', 'verify', '--file', join(cwd, 'nothing.jsonl')]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('no audit log at');
  });
});

describe('cordon audit tail', { timeout: 60_000 }, () => {
  const record = (seq: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ ts: '2026-11-29T12:00:00.000Z', seq, kind: 'invocation', agent: 'coder', user: null, tool: 'code', resource: 'language:javascript', outcome: 'ok', decision: { result: 'allow', reason: 'r', ruleId: 'rule-1' }, ...extra }) + '\n';

  it('prints the last records one per line, by agent, and as the logged JSON with --json', async () => {
    const file = join(cwd, 'tail.jsonl');
    writeFileSync(file, record(1) + record(2, { agent: 'other' }) + record(3));
    const human = await cordon(['audit', 'tail', '--file', file, '-n', '2']);
    expect(human).toMatchObject({ code: 0, stdout: '2026-11-29T12:00:00.000Z #2 invocation other code language:javascript → ok (allow rule-1)\n2026-11-29T12:00:00.000Z #3 invocation coder code language:javascript → ok (allow rule-1)\n' });
    const json = await cordon(['audit', 'tail', '--file', file, '--agent', 'coder', '--json']);
    expect(json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number })).toMatchObject([{ seq: 1 }, { seq: 3 }]);
  });

  it('shows escape sequences and direction overrides from a record as text, never to the terminal', async () => {
    const file = join(cwd, 'hostile.jsonl');
    writeFileSync(file, record(1, { resource: 'path:/workspace/\u001b]52;c;ZXZpbA==\u0007\u001b[2Jx\u202etxt.exe' }));
    const r = await cordon(['audit', 'tail', '--file', file]);
    expect(r.code).toBe(0);
    expect([...r.stdout].filter((c) => (c < ' ' && c !== '\n') || c === '\u202e')).toEqual([]);
    expect(r.stdout).toContain('path:/workspace/\\u001b]52;c;ZXZpbA==\\u0007\\u001b[2Jx\\u202etxt.exe');
  });

  it('refuses a bad --lines and says when there is no log', async () => {
    const bad = ['0', '-3', '1.5', '1000001'];
    const runs = await Promise.all(bad.map((n) => cordon(['audit', 'tail', '--file', join(cwd, 'tail.jsonl'), '-n', n])));
    runs.forEach((r, i) => {
      expect(r.code, bad[i]).toBe(2);
      expect(r.stderr).toContain('--lines must be a whole number');
    });
    const none = await cordon(['audit', 'tail', '--file', join(cwd, 'none.jsonl')]);
    expect(none.code).toBe(8);
    expect(none.stderr).toContain('no audit log at');
  });

  it('ends quietly when its reader stops early (--json | head): exit 0, no stack trace (regression: an unhandled EPIPE)', async () => {
    const file = join(cwd, 'long.jsonl');
    // Far more than a pipe holds, so the writes meet the closed pipe.
    writeFileSync(file, Array.from({ length: 5000 }, (_, i) => record(i + 1, { resource: `file:/workspace/${'a'.repeat(100)}` })).join(''));
    const child = spawn(BIN, ['audit', 'tail', '-n', '5000', '--json', '--file', file], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((done) => child.once('close', (c) => done(c)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('--follow prints records as a runner writes them, until interrupted', async () => {
    const file = join(cwd, 'follow.jsonl');
    writeFileSync(file, record(1));
    const child = spawn(BIN, ['audit', 'tail', '--follow', '--json', '-n', '1', '--file', file], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const lines = async (n: number) => {
        for (let i = 0; i < 1500 && out.split('\n').length <= n; i++) await new Promise((r) => setTimeout(r, 20));
        return out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
      };
      expect(await lines(1)).toEqual([1]);
      appendFileSync(file, record(2) + record(3));
      expect(await lines(3)).toEqual([1, 2, 3]);
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('cordon audit verify against the signed checkpoint', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cordon-audit-checkpoint-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]): Promise<CliRun> => runCli(dir, args);

  it('finds a tail cut after the runner signed it, prints the key it checks with, and refuses bad --from values', async () => {
    expect((await run(['run', 'code', '--lang', 'js', '1+1'])).code).toBe(0);
    expect((await run(['run', 'code', '--lang', 'js', '2+2'])).code).toBe(0);
    const log = join(dir, '.cordon', 'audit', 'audit.jsonl');
    const key = await run(['audit', 'key']);
    expect(key).toMatchObject({ code: 0, stdout: expect.stringMatching(/^cordon\.local\/audit\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n$/) as string });
    const checkpoint = readFileSync(`${log}.checkpoint`, 'utf8');
    // Two calls, each a `started` record and its result.
    expect(checkpoint).toMatch(/^cordon\.local\/audit\n4\n/);
    expect((await run(['audit', 'verify'])).stdout).toMatch(/^ok: 4 records .*checked against 1 signed checkpoint\(s\), latest of 4 records\n$/);
    // Someone removes the last call from the log: the chain that is left is valid.
    writeFileSync(log, readFileSync(log, 'utf8').split('\n')[0] + '\n');
    const cut = await run(['audit', 'verify', '--json']);
    expect(cut.code).toBe(1);
    expect(JSON.parse(cut.stdout)).toMatchObject({ ok: false, records: 1, problems: [{ kind: 'truncated', missing: { from: 2, to: 4 } }] });
    for (const bad of ['-1', '1.5', 'x', '99']) {
      const r = await run(['audit', 'verify', '--from', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/--from/);
    }
    const help = await run(['audit', 'verify', '--help']);
    expect(help.stdout).toMatch(/--from <seq>.*trusted/s);
  }, 120_000);
});
