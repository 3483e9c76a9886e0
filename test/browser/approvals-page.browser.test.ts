import { existsSync } from 'node:fs';
import { verify } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { decisionSigningInput, type ApprovalView } from '../../src/approvals/approval-types.ts';
import { signOperatorToken } from '../../src/identity/operator-token.ts';
import { CHROMIUM_PATH } from '../../src/sandbox/index.ts';
import { invocationHashOf } from '../support/fake-approvals.ts';
import { describeWith } from '../support/infrastructure.ts';
import { startOperatorFixture, type OperatorFixture } from '../support/operator-fixture.ts';

// The approvals page in Debian's Chromium against a live operator listener over a fake
// approval service: log in, load the key file, see the exact input, approve and deny, with the
// decision signed in the browser. Chromium resolves no name and reaches nothing but loopback.
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps', '--disable-breakpad', '--no-pings', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];
const TIMEOUT_MS = 60_000;
const HOSTILE = { path: '/workspace/notes.md', content: '</script><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>', unicode: 'é\u2028\ud83d\ude00', big: 1e21, nested: { z: 1, a: [true, null] } };

let fx: OperatorFixture;
let browser: Browser;
let context: BrowserContext;
let problems: string[];

describeWith('Chromium', existsSync(CHROMIUM_PATH), 'the approvals page in Chromium', () => {
  beforeAll(async () => {
    fx = await startOperatorFixture(['ana', 'ben'], { loginAttemptsPerMinute: 1000 });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, chromiumSandbox: false, timeout: TIMEOUT_MS });
  }, TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await fx?.close();
  }, TIMEOUT_MS);
  afterEach(async () => {
    await context?.close();
    // Any CSP violation, script error or failed load is a console error or a page error.
    expect(problems).toEqual([]);
  });

  async function open(url = `${fx.url}/operator/`): Promise<Page> {
    context = await browser.newContext();
    problems = [];
    const page = await context.newPage();
    page.on('console', (m) => {
      // The page asks /session first and is answered 401 until someone logs in: that one is expected.
      if (m.text().includes('status of 401 (Unauthorized)')) return;
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(url);
    return page;
  }

  async function logIn(page: Page, name = 'ana'): Promise<void> {
    await page.fill('#login-name', name);
    await page.fill('#login-password', fx.approvers[name]!.password);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector(`#whoami:has-text("Logged in as ${name}")`);
  }

  async function loadKey(page: Page, name = 'ana'): Promise<void> {
    await page.setInputFiles('#key-file', fx.approvers[name]!.keyFile);
    await page.waitForSelector('#key-state:has-text("is loaded")');
  }

  const card = (page: Page, view: ApprovalView) => page.locator(`li.approval[data-id="${view.id}"]`);

  async function decide(page: Page, view: ApprovalView, button: 'approve' | 'deny', outcome: string) {
    await page.click('#refresh');
    await card(page, view).locator(`button.${button}`).click();
    await card(page, view).locator(`.outcome:has-text("${outcome}")`).waitFor();
  }

  it('logs in, shows the exact input as text (hostile markup stays inert), and approves with a signature made in the browser', async () => {
    const view = fx.approvals.add({ input: HOSTILE, agent: 'builder', user: { issuer: 'https://idp.test', subject: 'alice' } }, { reason: 'writes <b>outside</b> drafts', policyId: 'approve-writes' });
    const page = await open();
    await page.waitForSelector('#login:not([hidden])');
    await logIn(page);
    await loadKey(page);
    const c = card(page, view);
    await c.waitFor();
    expect(await c.locator('.input').textContent()).toBe(JSON.stringify(HOSTILE, null, 2));
    expect(await c.locator('.agent').textContent()).toBe('builder');
    expect(await c.locator('.user').textContent()).toBe('alice (issuer https://idp.test)');
    expect(await c.locator('.reason').textContent()).toBe('writes <b>outside</b> drafts');
    expect(await c.locator('.policy').textContent()).toBe('approve-writes');
    expect(await c.locator('.expires').textContent()).toBe(view.expiresAt);
    expect(await c.locator('.tool').textContent()).toBe('fs.write');
    // Nothing from the input became an element, and no script of it ran.
    expect(await page.locator('img, b, #list script').count()).toBe(0);
    expect(await page.evaluate('window.pwned')).toBeUndefined();

    await decide(page, view, 'approve', 'Approved');
    const got = fx.approvals.received.filter((d) => d.statement.approvalId === view.id);
    expect(got).toHaveLength(1);
    const { statement, signature } = got[0]!;
    expect(statement).toMatchObject({ decision: 'approve', approver: 'ana', invocationHash: invocationHashOf(view.invocation) });
    expect(statement.exp - statement.iat).toBeLessThanOrEqual(300);
    expect(Buffer.from(statement.nonce, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(verify(null, decisionSigningInput(statement), fx.approvers.ana!.publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
  }, TIMEOUT_MS);

  it('denies likewise, keeps the key across reloads in IndexedDB, and cannot read the key back out', async () => {
    const view = fx.approvals.add({ input: { command: 'rm -rf /workspace/build' }, tool: 'code' });
    const page = await open();
    await logIn(page);
    await loadKey(page);
    await page.reload();
    await page.waitForSelector('#key-state:has-text("is loaded")');
    // Page code (a string: this project's TypeScript has no DOM types) that tries to export the stored key.
    const extractable = await page.evaluate(`new Promise((done) => {
      const req = indexedDB.open('cordon-operator', 1);
      req.onsuccess = () => {
        const get = req.result.transaction('keys', 'readonly').objectStore('keys').get('ana');
        get.onsuccess = () => {
          const key = get.result;
          crypto.subtle.exportKey('pkcs8', key).then(
            () => done('exported (extractable=' + key.extractable + ')'),
            () => done('refused (extractable=' + key.extractable + ', ' + key.algorithm.name + ')'),
          );
        };
      };
    })`);
    expect(extractable).toBe('refused (extractable=false, Ed25519)');

    await decide(page, view, 'deny', 'Denied');
    const got = fx.approvals.received.filter((d) => d.statement.approvalId === view.id);
    expect(got).toHaveLength(1);
    expect(got[0]!.statement).toMatchObject({ decision: 'deny', approver: 'ana', invocationHash: invocationHashOf(view.invocation) });
    expect(verify(null, decisionSigningInput(got[0]!.statement), fx.approvers.ana!.publicKey, Buffer.from(got[0]!.signature, 'base64url'))).toBe(true);
  }, TIMEOUT_MS);

  it('will not sign when the hash the server reports is not the hash of the invocation shown', async () => {
    const view = fx.approvals.add({ input: { path: '/workspace/shown.txt' } }, { invocationHash: 'e'.repeat(64) });
    const page = await open();
    await logIn(page);
    await loadKey(page);
    await decide(page, view, 'approve', 'does not match');
    expect(fx.approvals.received.filter((d) => d.statement.approvalId === view.id)).toEqual([]);
  }, TIMEOUT_MS);

  it('enforces its CSP: an injected inline script does not run, and the violation is reported (so the other tests would see one)', async () => {
    const page = await open();
    await page.waitForSelector('#login:not([hidden])');
    await page.evaluate(`{ const s = document.createElement('script'); s.textContent = 'window.injected = 1'; document.body.append(s); }`);
    await expect.poll(() => problems.some((p) => p.includes('Content Security Policy'))).toBe(true);
    expect(await page.evaluate('window.injected')).toBeUndefined();
    problems = [];
  }, TIMEOUT_MS);

  it('logs in with a one-time link from the CLI route, removes the token from the address bar, and the link fails the second time', async () => {
    const token = await signOperatorToken({ approver: 'ben', privateKey: fx.approvers.ben!.privateKey });
    const res = await fetch(`${fx.url}/operator/v1/login-links`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const { url } = (await res.json()) as { url: string };
    const page = await open(url);
    await page.waitForSelector('#whoami:has-text("Logged in as ben")');
    expect(page.url()).toBe(`${fx.url}/operator/`);
    await context.close();

    const again = await open(url);
    await again.waitForSelector('#status:has-text("did not work")');
  }, TIMEOUT_MS);
});
