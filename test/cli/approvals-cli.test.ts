import { type ChildProcess, spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionSigningInput } from '../../src/approvals/approval-types.ts';
import { ExitCode } from '../../src/core/errors.ts';
import { parseScryptHash, verifyPassword } from '../../src/identity/password-hash.ts';
import { BIN, runCli } from '../support/cli.ts';
import { invocationHashOf } from '../support/fake-approvals.ts';
import { startOperatorFixture, type OperatorFixture } from '../support/operator-fixture.ts';

// The real `bin/cordon approvals …` against a live operator listener over a fake approval service.
// Each test starts bin/cordon a few times: a minute each, on a machine shared with other suites.
const CLI_TIMEOUT_MS = 60_000;
let fx: OperatorFixture;
let cwd: string;

beforeAll(async () => {
  fx = await startOperatorFixture(['ana', 'ben'], { loginAttemptsPerMinute: 1000 });
  cwd = mkdtempSync(join(tmpdir(), 'cordon-approvals-cli-'));
}, 30_000);
afterAll(async () => {
  await fx?.close();
  rmSync(cwd, { recursive: true, force: true });
});

const as = (name: string) => ['--key', fx.approvers[name]!.keyFile, '--approver', name, '--url', fx.url];
const cordon = (args: string[], stdin?: string) => runCli(cwd, args, stdin === undefined ? {} : { stdin });

describe('cordon approvals list | show', () => {
  it('lists pending approvals as JSON and as text', async () => {
    const view = fx.approvals.add({ input: { path: '/workspace/list.txt' } });
    const json = await cordon(['approvals', 'list', ...as('ana'), '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { approvals: { id: string }[] }).approvals.map((a) => a.id)).toContain(view.id);
    const text = await cordon(['approvals', 'list', ...as('ana')]);
    expect(text.stdout).toContain(`${view.id}  pending`);
  }, CLI_TIMEOUT_MS);

  it('shows the exact input (hostile text stays inert JSON), both principals, the reason and the hash', async () => {
    const input = { path: '/etc/passwd', content: '</script><img src=x onerror=alert(1)>\u001b[2J', n: 1e21 };
    const view = fx.approvals.add({ input, agent: 'builder', user: { issuer: 'https://idp.test', subject: 'alice' } });
    const r = await cordon(['approvals', 'show', view.id, ...as('ana')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(JSON.stringify(input, null, 2));
    // The terminal escape is printed escaped, never sent raw to the terminal.
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).toMatch(/^agent\s+builder$/m);
    expect(r.stdout).toMatch(/^user\s+alice \(issuer https:\/\/idp\.test\)$/m);
    expect(r.stdout).toMatch(new RegExp(`^reason\\s+${view.reason}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^hash\\s+${view.invocationHash}$`, 'm'));
    expect(r.stdout).not.toContain('WARNING');
  }, CLI_TIMEOUT_MS);

  it('exits 8 for an unknown approval, 4 with a key that is not the approver\'s, 2 without --key, 7 with no listener', async () => {
    expect((await cordon(['approvals', 'show', 'apr_nope', ...as('ana')])).code).toBe(ExitCode.notFound);
    const wrongKey = await cordon(['approvals', 'list', '--key', fx.approvers.ben!.keyFile, '--approver', 'ana', '--url', fx.url]);
    expect([wrongKey.code, wrongKey.stderr]).toEqual([ExitCode.auth, expect.stringContaining('AUTH_INVALID_TOKEN')]);
    expect((await cordon(['approvals', 'list', '--approver', 'ana', '--url', fx.url])).code).toBe(ExitCode.usage);
    const closed = await startOperatorFixture(['ana']);
    const deadUrl = closed.url;
    await closed.close();
    const none = await cordon(['approvals', 'list', '--key', fx.approvers.ana!.keyFile, '--approver', 'ana', '--url', deadUrl]);
    expect([none.code, none.stderr]).toEqual([ExitCode.unavailable, expect.stringContaining('no operator listener answers')]);
  }, CLI_TIMEOUT_MS);
});

describe('cordon approvals approve | deny', () => {
  for (const verdict of ['approve', 'deny'] as const) {
    it(`${verdict}: signs locally a statement whose signature verifies with the approver's public key and whose hash is the invocation's`, async () => {
      const view = fx.approvals.add({ input: { path: `/workspace/${verdict}.txt`, content: 'é\u2028' } });
      const r = await cordon(['approvals', verdict, view.id, ...as('ben')]);
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toContain(`${verdict === 'approve' ? 'approved' : 'denied'} ${view.id}`);
      const got = fx.approvals.received.filter((d) => d.statement.approvalId === view.id);
      expect(got).toHaveLength(1);
      const { statement, signature } = got[0]!;
      expect(statement).toMatchObject({ decision: verdict, approver: 'ben', invocationHash: invocationHashOf(view.invocation) });
      expect(statement.exp - statement.iat).toBeLessThanOrEqual(300);
      expect(verify(null, decisionSigningInput(statement), fx.approvers.ben!.publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
      expect(verify(null, decisionSigningInput(statement), fx.approvers.ana!.publicKey, Buffer.from(signature, 'base64url'))).toBe(false);
    }, CLI_TIMEOUT_MS);
  }

  it('refuses to sign when the hash the server reports is not the hash of the invocation it shows (exit 9), and posts nothing', async () => {
    const view = fx.approvals.add({ input: { path: '/workspace/shown.txt' } }, { invocationHash: 'f'.repeat(64) });
    const r = await cordon(['approvals', 'approve', view.id, ...as('ana')]);
    expect([r.code, r.stderr]).toEqual([ExitCode.conflict, expect.stringContaining('OPERATOR_HASH_MISMATCH')]);
    expect(fx.approvals.received.filter((d) => d.statement.approvalId === view.id)).toEqual([]);
    const shown = await cordon(['approvals', 'show', view.id, ...as('ana')]);
    expect(shown.stdout).toContain('WARNING: the invocation shown hashes to');
  }, CLI_TIMEOUT_MS);
});

describe('cordon approvals login-link | keygen | hash-password', () => {
  it('prints a one-time link that logs the approver in once', async () => {
    const r = await cordon(['approvals', 'login-link', ...as('ana')]);
    expect(r.code).toBe(0);
    const url = new URL(r.stdout.split('\n')[0]!);
    const token = url.hash.replace('#login=', '');
    const redeem = () => fetch(`${fx.url}/operator/v1/login-link/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    const first = await redeem();
    expect([first.status, ((await first.json()) as { approver: string }).approver]).toEqual([200, 'ana']);
    expect((await redeem()).status).toBe(401);
  }, CLI_TIMEOUT_MS);

  it('keygen writes a 0600 PKCS8 key, prints its public key, and never overwrites', async () => {
    const out = join(cwd, 'new-approver.key');
    const r = await cordon(['approvals', 'keygen', '--out', out]);
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const pem = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----\n/.exec(r.stdout)?.[0];
    expect(pem).toBeDefined();
    const derived = createPublicKey(createPrivateKey(readFileSync(out, 'utf8'))).export({ type: 'spki', format: 'pem' }).toString();
    expect(pem).toBe(derived);
    const again = await cordon(['approvals', 'keygen', '--out', out]);
    expect(again.code).toBe(ExitCode.usage);
  }, CLI_TIMEOUT_MS);

  it('hash-password reads stdin and prints a scrypt string that verifies; short passwords are refused', async () => {
    const r = await cordon(['approvals', 'hash-password'], 'correct horse battery staple\n');
    expect(r.code).toBe(0);
    const line = r.stdout.trim();
    expect(line).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const parsed = parseScryptHash(line, 'test');
    expect(await verifyPassword('correct horse battery staple', parsed)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', parsed)).toBe(false);
    expect((await cordon(['approvals', 'hash-password'], 'short\n')).code).toBe(ExitCode.usage);
  }, CLI_TIMEOUT_MS);
});

describe('cordon serve starts the operator listener', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  }, CLI_TIMEOUT_MS);

  it('prints its URL; it serves the page with its CSP, and the runner API serves no operator route', async () => {
    child = spawn(BIN, ['serve', '--port', '0', '--operator-port', '0'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const [runnerUrl, operatorUrl] = await new Promise<[string, string]>((done, fail) => {
      child?.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const runner = /cordon listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
        const operator = /operator listening on (http:\/\/127\.0\.0\.1:\d+)\/operator\//.exec(out)?.[1];
        if (runner !== undefined && operator !== undefined) done([runner, operator]);
      });
      child?.on('exit', (code) => fail(new Error(`serve exited ${code}: ${out}`)));
    });
    expect(operatorUrl).not.toBe(runnerUrl);
    const page = await fetch(`${operatorUrl}/operator/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const fromRunner = await fetch(`${runnerUrl}/operator/v1/approvals`);
    expect(fromRunner.status).toBe(404);
    const exited = new Promise((done) => child?.on('exit', done));
    if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
  }, CLI_TIMEOUT_MS);
});
