import { cpSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

// `cordon run` of a call that policy holds for a human: it says so and exits 6, and the held call
// stays in the data directory's approvals store for `cordon serve` to run once approved.
let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-cli-approval-'));
  const policies = join(cwd, 'policies');
  cpSync(resolve(import.meta.dirname, '..', '..', 'policies', 'cordon.cedarschema'), join(policies, 'cordon.cedarschema'));
  writeFileSync(join(policies, 'held.cedar'), '@approval("required")\n@id("code-needs-approval")\npermit (principal, action == Action::"code.exec", resource is Language);\n');
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('cordon run, held for approval', () => {
  it('exits 6 naming the approval, prints it with --json, and keeps it in an owner-only store', async () => {
    const env = { CORDON_POLICY_DIR: join(cwd, 'policies') };
    const human = await runCli(cwd, ['run', 'code', '--lang', 'js', '40+2'], { env });
    expect(human.code).toBe(6);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/^inv_\w+: waits for approval apr_\w+ until .+code-needs-approval/m);
    const json = await runCli(cwd, ['run', 'code', '--lang', 'js', '40+2', '--json'], { env });
    expect(json.code).toBe(6);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'pending_approval', approval: { policyId: 'code-needs-approval' } });
    expect(statSync(join(cwd, '.cordon', 'approvals.sqlite')).mode & 0o777).toBe(0o600);
  });
});
