import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createOperatorApi } from '../../src/api/operator/index.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { hashPassword } from '../../src/identity/password-hash.ts';
import { CHROMIUM_PATH } from '../../src/sandbox/index.ts';
import { makeTestApprover } from '../support/approvers.ts';
import { describeWith } from '../support/infrastructure.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// The approval flow end to end, in Debian's Chromium: a real runtime holds an agent's delete
// (202); an operator logs in to the approvals page on the operator listener, loads their key
// file, sees the pending call and approves or denies it — signed in the browser — and the
// agent's long-poll on the runner API gets the result, or 403 APPROVAL_DENIED.
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps', '--disable-breakpad', '--no-pings', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];
const TIMEOUT_MS = 90_000;
const coder = makeTestAgent('coder', ['coding']);
const ana = makeTestApprover('ana');
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

let env: TestEnv;
let server: TestServer;
let operator: FastifyInstance;
let operatorUrl: string;
let keyDir: string;
let browser: Browser;
let context: BrowserContext | null = null;
let problems: string[] = [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
type Json = Record<string, any>;
async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await request(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor('coder'))}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Json };
}

async function heldDelete(file: string): Promise<{ sandbox: string; id: string; approval: string }> {
  const sandbox = (await api('POST', '/v1/sandboxes', { profile: 'js' })).json.id as string;
  expect((await api('POST', '/v1/invocations', { tool: 'file.write', sandbox, input: { path: file, content: 'precious' } })).status).toBe(200);
  const held = await api('POST', '/v1/invocations', { tool: 'file.delete', sandbox, input: { path: file } });
  expect(held.status).toBe(202);
  return { sandbox, id: held.json.id as string, approval: held.json.approval.id as string };
}

async function openPage(): Promise<Page> {
  context = await browser.newContext();
  problems = [];
  const page = await context.newPage();
  page.on('console', (m) => {
    // Before login the page asks /session and is told 401: expected.
    if (m.text().includes('status of 401 (Unauthorized)')) return;
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(`${operatorUrl}/operator/`);
  await page.fill('#login-name', 'ana');
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#whoami:has-text("Logged in as ana")');
  await page.setInputFiles('#key-file', join(keyDir, 'ana.key'));
  await page.waitForSelector('#key-state:has-text("is loaded")');
  return page;
}

async function decideInPage(page: Page, approval: string, button: 'approve' | 'deny', outcome: string): Promise<void> {
  await page.click('#refresh');
  const card = page.locator(`li.approval[data-id="${approval}"]`);
  await card.waitFor();
  await card.locator(`button.${button}`).click();
  await card.locator(`.outcome:has-text("${outcome}")`).waitFor();
}

describeWith('Chromium', existsSync(CHROMIUM_PATH), 'the approval flow in Chromium, against a real runtime', () => {
  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'cordon-approver-key-'));
    writeFileSync(join(keyDir, 'ana.key'), ana.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    env = makeTestEnv([coder], {
      sandbox: { container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } },
      approvals: { approvers: [{ name: 'ana', publicKey: ana.publicKeyPem, tools: ['file.*'], passwordScrypt: await hashPassword(PASSWORD) }] },
    });
    server = await startTestServer(env.config);
    // The operator listener over this runtime's own approval service, as `cordon serve` wires it.
    operator = createOperatorApi({ approvals: server.runtime.approvals, approvers: server.runtime.approvers.list(), logger: silentLogger, host: '127.0.0.1' });
    operatorUrl = await operator.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, chromiumSandbox: false, timeout: TIMEOUT_MS });
  }, TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await operator?.close();
    await server?.close();
    env?.cleanup();
    if (keyDir !== undefined) rmSync(keyDir, { recursive: true, force: true });
  }, TIMEOUT_MS);
  afterEach(async () => {
    await context?.close();
    context = null;
    expect(problems).toEqual([]);
  });

  it('approve in the page → the agent\'s long-poll returns the delete\'s result, and the file is gone', async () => {
    const held = await heldDelete('doomed.txt');
    const page = await openPage();
    const card = page.locator(`li.approval[data-id="${held.approval}"]`);
    await card.waitFor();
    // The exact call, as stored: tool, input and the agent.
    expect(await card.locator('.tool').textContent()).toBe('file.delete');
    expect(JSON.parse((await card.locator('.input').textContent()) ?? 'null')).toEqual({ path: 'doomed.txt' });
    expect(await card.locator('.agent').textContent()).toBe('coder');
    const waiting = api('GET', `/v1/invocations/${held.id}?waitMs=30000`);
    await decideInPage(page, held.approval, 'approve', 'Approved');
    expect(await waiting).toMatchObject({ status: 200, json: { id: held.id, tool: 'file.delete', status: 'ok', output: { path: 'doomed.txt' } } });
    expect((await api('POST', '/v1/invocations', { tool: 'file.stat', sandbox: held.sandbox, input: { path: 'doomed.txt' } })).json).toMatchObject({ error: { code: 'FS_NOT_FOUND' } });
    expect(server.runtime.approvals.get(held.approval)).toMatchObject({ status: 'approved', decidedBy: 'ana' });
  }, TIMEOUT_MS);

  it('deny in the page → the agent\'s long-poll answers 403 APPROVAL_DENIED, and the file stays', async () => {
    const held = await heldDelete('kept.txt');
    const page = await openPage();
    const waiting = api('GET', `/v1/invocations/${held.id}?waitMs=30000`);
    await decideInPage(page, held.approval, 'deny', 'Denied');
    expect(await waiting).toMatchObject({ status: 403, json: { error: { code: 'APPROVAL_DENIED' } } });
    expect((await api('POST', '/v1/invocations', { tool: 'file.read', sandbox: held.sandbox, input: { path: 'kept.txt' } })).json).toMatchObject({ status: 'ok' });
  }, TIMEOUT_MS);
});
