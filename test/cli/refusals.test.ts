import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, type CliRun } from '../support/cli.ts';

// A newcomer's refusal: who was refused, what, on what, and the command that shows why.
let cwd: string;

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-refusals-'));
  expect((await runCli(cwd, ['users', 'add', 'alice'])).code).toBe(0);
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const cordon = (args: string[]): Promise<CliRun> => runCli(cwd, args);

/** Runs a line as a user pastes it into a POSIX shell, with `cordon` meaning this checkout's CLI. */
function inShell(line: string): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn('sh', ['-c', `cordon() { "$CORDON_BIN" "$@"; }\n${line}`], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_BIN: BIN } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('refusals name who, what and on what, and how to see why', () => {
  // A quote in the input must survive the shell; a delegated call names both principals.
  const input = JSON.stringify({ url: "http://docs.test/a?q='x'" });

  it('prints the principals, the action, the resource and a policy explain line that reproduces the decision', async () => {
    const r = await cordon(['run', 'browse.fetch', '--user', 'alice', '--input', input]);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    const line = r.stderr.trim();
    expect(line).toMatch(/^cordon: POLICY_DENIED: denied: agent "local" acting for user "alice" may not net\.fetch url "http:\/\/docs\.test\/a\?q=%27x%27": /);
    const explain = /To see why: (cordon policy explain .*)$/.exec(line)?.[1];
    expect(explain).toBeDefined();
    const shown = await inShell(explain ?? '');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^decision: deny$/m);
    expect(shown.stdout).toContain('User::"cordon-local-users#alice": deny');
    expect(shown.stdout).toContain('"host":"docs.test"');
  });

  it('with --json, prints the error as JSON on stdout too (same code, message and exit code)', async () => {
    const r = await cordon(['run', 'browse.fetch', '--input', input, '--json']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('POLICY_DENIED');
    const body = JSON.parse(r.stdout) as { error: { code: string; message: string; exitCode: number; details: Record<string, unknown> } };
    expect(body.error).toMatchObject({ code: 'POLICY_DENIED', exitCode: 5, details: { principal: { agent: 'local', user: null }, action: 'net.fetch', resource: { type: 'url' } } });
    expect(body.error.details.explain).toMatch(/^cordon policy explain --agent local --tool browse\.fetch --input /);
    expect(body.error.message).toContain(String(body.error.details.explain));
  });

  it('with --json, a usage error is JSON on stdout as well', async () => {
    const r = await cordon(['run', 'code', '--json', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'USAGE', exitCode: 2, message: expect.stringContaining('--no-such-flag') } });
  });
});
