import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../support/cli.ts';

// The audit log a real `cordon run` writes is a hash chain `cordon audit verify` checks.
let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-audit-cli-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const cordon = (args: string[]): Promise<CliRun> => runCli(cwd, args);

describe('cordon audit verify', () => {
  it('verifies the chain that runs wrote, across processes, and finds a record edited after the fact', async () => {
    expect((await cordon(['run', 'code', '--lang', 'js', '1+1'])).code).toBe(0);
    expect((await cordon(['run', 'code', '--lang', 'js', 'nope('])).code).toBe(1);
    const ok = await cordon(['audit', 'verify']);
    expect(ok).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ok: 2 records in .*audit\.jsonl; head seq 2 [0-9a-f]{64}; checked against 1 signed checkpoint\(s\), latest of 2 records\n$/) as string });
    const log = join(cwd, '.cordon', 'audit', 'audit.jsonl');
    // Someone rewrites a failed call as a success.
    writeFileSync(log, readFileSync(log, 'utf8').replace('"outcome":"error"', '"outcome":"ok"'));
    const bad = await cordon(['audit', 'verify', '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, records: 2, problems: [{ line: 2, seq: 2, kind: 'edited' }] });
  });

  it('says where a runner writes its log when there is none', async () => {
    const r = await cordon(['audit', 'verify', '--file', join(cwd, 'nothing.jsonl')]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('no audit log at');
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
    expect(checkpoint).toMatch(/^cordon\.local\/audit\n2\n/);
    expect((await run(['audit', 'verify'])).stdout).toMatch(/^ok: 2 records .*checked against 1 signed checkpoint\(s\), latest of 2 records\n$/);
    // Someone removes the last call from the log: the chain that is left is valid.
    writeFileSync(log, readFileSync(log, 'utf8').split('\n')[0] + '\n');
    const cut = await run(['audit', 'verify', '--json']);
    expect(cut.code).toBe(1);
    expect(JSON.parse(cut.stdout)).toMatchObject({ ok: false, records: 1, problems: [{ kind: 'truncated', missing: { from: 2, to: 2 } }] });
    for (const bad of ['-1', '1.5', 'x', '99']) {
      const r = await run(['audit', 'verify', '--from', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/--from/);
    }
    const help = await run(['audit', 'verify', '--help']);
    expect(help.stdout).toMatch(/--from <seq>.*trusted/s);
  }, 120_000);
});
