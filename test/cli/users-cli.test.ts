import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../support/cli.ts';

// Local users through the real CLI with the embedded default: a local user belongs to the
// local issuer, and delegation works because the CLI's user token names the acting agent (may_act).
let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-users-cli-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const cordon = (args: string[]): Promise<CliRun> => runCli(cwd, args);
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.trim().split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;

describe('cordon users', () => {
  it('registers a local user of the local issuer, and runs code for them as the local agent', async () => {
    expect(await cordon(['users', 'add', 'alice', '--group', 'engineering'])).toMatchObject({ code: 0, stdout: expect.stringContaining('issuer cordon-local-users') });
    expect((await cordon(['users', 'list', '--json'])).stdout).toContain('"issuer": "cordon-local-users"');
    expect(await cordon(['run', 'code', '--lang', 'js', '6*7', '--user', 'alice'])).toMatchObject({ code: 0, stdout: '42\n' });
  });

  it('mints a user token naming the agents that may act for the user', async () => {
    const named = await cordon(['users', 'token', 'alice', '--may-act', 'local']);
    expect(named.code).toBe(0);
    expect(claimsOf(named.stdout)).toMatchObject({ iss: 'cordon-local-users', sub: 'alice', may_act: { sub: 'local' } });
    expect(claimsOf((await cordon(['users', 'token', 'alice'])).stdout).may_act).toBeUndefined();
  });
});
