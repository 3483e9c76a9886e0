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
    // Each call is two records: `started` before its sandbox ran, then its result.
    expect(ok).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ok: 4 records in .*audit\.jsonl; head seq 4 [0-9a-f]{64}\n$/) as string });
    const log = join(cwd, '.cordon', 'audit', 'audit.jsonl');
    // Someone rewrites a failed call as a success.
    writeFileSync(log, readFileSync(log, 'utf8').replace('"outcome":"error"', '"outcome":"ok"'));
    const bad = await cordon(['audit', 'verify', '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, records: 4, problems: [{ file: 'audit.jsonl', line: 4, seq: 4, kind: 'edited' }] });
  });

  it('says where a runner writes its log when there is none', async () => {
    const r = await cordon(['audit', 'verify', '--file', join(cwd, 'nothing.jsonl')]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('no audit log at');
  });
});
