import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, type CliRun } from '../support/cli.ts';
import { makeTestApprover } from '../support/approvers.ts';

// The whole approval flow from the CLI against a real `cordon serve`: the local agent's delete
// is held (202), an operator lists and shows it with `cordon approvals`, approves or denies it
// with a key only they hold, and the agent's long-poll gets the result or APPROVAL_DENIED.
const ana = makeTestApprover('ana');
let cwd: string;
let serve: ChildProcess | null = null;
let url = '';
let operatorUrl = '';
let token = '';

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-approvals-e2e-'));
  writeFileSync(join(cwd, 'ana.key'), ana.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  writeFileSync(join(cwd, 'ana.pub'), ana.publicKeyPem);
  writeFileSync(join(cwd, 'cordon.yaml'), ['approvals:', '  approvers:', '    - name: ana', '      publicKeyFile: ana.pub', '      tools: ["file.*"]', ''].join('\n'));
  serve = spawn(BIN, ['serve', '--port', '0', '--operator-port', '0'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((done, fail) => {
    serve?.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      url = /cordon listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
      operatorUrl = /operator listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
      token = /Authorization: Bearer ([\w.-]+)/.exec(out)?.[1] ?? '';
      if (url !== '' && operatorUrl !== '' && token !== '') done();
    });
    serve?.on('exit', (code) => fail(new Error(`serve exited ${code}`)));
  });
}, 60_000);
afterAll(async () => {
  if (serve !== null && serve.exitCode === null) {
    const exited = new Promise((done) => serve?.once('exit', done));
    serve.kill('SIGTERM');
    await exited;
  }
  rmSync(cwd, { recursive: true, force: true });
}, 60_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
type Json = Record<string, any>;
async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await request(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Json };
}
const cordon = (args: string[]): Promise<CliRun> => runCli(cwd, args);
const as = ['--key', 'ana.key', '--approver', 'ana'];

/** A session sandbox holding `file`, and the held delete of it. */
async function heldDelete(file: string): Promise<{ sandbox: string; id: string; approval: string }> {
  const sandbox = (await api('POST', '/v1/sandboxes', { profile: 'js' })).json.id as string;
  expect((await api('POST', '/v1/invocations', { tool: 'file.write', sandbox, input: { path: file, content: 'precious' } })).status).toBe(200);
  const held = await api('POST', '/v1/invocations', { tool: 'file.delete', sandbox, input: { path: file } });
  expect(held).toMatchObject({ status: 202, json: { status: 'pending_approval', approval: { id: expect.stringMatching(/^apr_/) as string } } });
  return { sandbox, id: held.json.id as string, approval: held.json.approval.id as string };
}

describe('approvals from the CLI against a real cordon serve', { timeout: 120_000 }, () => {
  it('lists and shows the held call, approves it with the operator key, and the agent\'s long-poll returns the result', async () => {
    const held = await heldDelete('doomed.txt');
    const list = await cordon(['approvals', 'list', '--json', '--url', operatorUrl, ...as]);
    expect(list.code, list.stderr).toBe(0);
    const listed = (JSON.parse(list.stdout) as { approvals: Json[] }).approvals.find((a) => a.id === held.approval);
    expect(listed).toMatchObject({ status: 'pending', invocation: { invocation: held.id, tool: 'file.delete', input: { path: 'doomed.txt' }, agent: 'local', sandbox: held.sandbox } });
    const show = await cordon(['approvals', 'show', held.approval, '--url', operatorUrl, ...as]);
    expect(show.stdout).toContain('doomed.txt');

    const waiting = api('GET', `/v1/invocations/${held.id}?waitMs=30000`);
    const approve = await cordon(['approvals', 'approve', held.approval, '--url', operatorUrl, ...as]);
    expect(approve.code, approve.stderr).toBe(0);
    expect(await waiting).toMatchObject({ status: 200, json: { id: held.id, tool: 'file.delete', status: 'ok', output: { path: 'doomed.txt' } } });
    expect((await api('POST', '/v1/invocations', { tool: 'file.stat', sandbox: held.sandbox, input: { path: 'doomed.txt' } })).json).toMatchObject({ error: { code: 'FS_NOT_FOUND' } });
    // Decided once: a second approval of the same call is refused.
    const again = await cordon(['approvals', 'approve', held.approval, '--url', operatorUrl, ...as]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/APPROVAL_ALREADY_DECIDED|already/);
  });

  it('denies: the agent\'s long-poll answers 403 APPROVAL_DENIED naming the approver, and the file stays', async () => {
    const held = await heldDelete('kept.txt');
    const waiting = api('GET', `/v1/invocations/${held.id}?waitMs=30000`);
    const deny = await cordon(['approvals', 'deny', held.approval, '--url', operatorUrl, ...as]);
    expect(deny.code, deny.stderr).toBe(0);
    expect(await waiting).toMatchObject({ status: 403, json: { error: { code: 'APPROVAL_DENIED', details: { approver: 'ana' } } } });
    expect((await api('POST', '/v1/invocations', { tool: 'file.read', sandbox: held.sandbox, input: { path: 'kept.txt' } })).json).toMatchObject({ status: 'ok', output: { content: 'precious' } });
  });

  it('refuses the agent\'s own token on every operator route: it cannot list, show or decide', async () => {
    const held = await heldDelete('agent-tries.txt');
    for (const [method, path] of [['GET', '/operator/v1/approvals'], ['GET', `/operator/v1/approvals/${held.approval}`], ['POST', `/operator/v1/approvals/${held.approval}/decision`]] as const) {
      const res = await request(`${operatorUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(res.statusCode, path).toBe(401);
      await res.body.dump();
    }
  });
});
