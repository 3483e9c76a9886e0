import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/audit-sink.ts';
import { createMemoryAuditSink } from '../../src/audit/jsonl-audit-log.ts';
import { CordonError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { Principal } from '../../src/core/principal.ts';
import { createLoopbackOnlyDialer, createStaticResolver } from '../../src/egress/index.ts';
import { createRuntime, type Runtime } from '../../src/runner/runtime.ts';
import { CHROMIUM_PATH } from '../../src/sandbox/index.ts';
import type { PageOutput } from '../../src/tools/browse/index.ts';
import { startBrowserSites, type BrowserSites } from '../support/browser-site.ts';
import { describeWith } from '../support/infrastructure.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';

// browse.page through the real pipeline (createRuntime + runner.invoke): Debian's Chromium,
// a context per sandbox, every request through that sandbox's egress proxy channel.
// Pages name *.test hosts that only Cordon's static resolver knows (127.0.0.x); the
// proxy's dialer refuses anything but loopback.
const SHIPPED_POLICIES = resolve(import.meta.dirname, '..', '..', 'policies');
const agent = makeTestAgent('browser-agent', ['browsing']);
let env: TestEnv;
let sites: BrowserSites;
let runtime: Runtime;
let audit: ReturnType<typeof createMemoryAuditSink>;
let dirs: string[] = [];

describeWith('Chromium', existsSync(CHROMIUM_PATH), 'browse.page in Chromium', () => {
  beforeAll(async () => {
    sites = await startBrowserSites();
    const egressDir = mkdtempSync(join(tmpdir(), 'cordon-egress-'));
    // The bundled profiles name bundled egress policies (browser.yaml: browse-open).
    cpSync(resolve(import.meta.dirname, '..', '..', 'egress-policies'), egressDir, { recursive: true });
    writeFileSync(join(egressDir, 'site.yaml'), ['name: site', 'mode: enforce', 'allow:', `  - host: site.test:${sites.site.port}`, 'allow_cidrs: [127.0.0.0/8]', ''].join('\n'));
    const cedarDir = mkdtempSync(join(tmpdir(), 'cordon-cedar-'));
    cpSync(SHIPPED_POLICIES, cedarDir, { recursive: true });
    writeFileSync(
      join(cedarDir, 'browse-tests.cedar'),
      [
        '// Cedar lets the test agent browse and fetch any test host: what is refused below, the egress policy refuses.',
        '@id("test-browse-test-hosts")',
        'permit (principal == Agent::"browser-agent", action in Action::"egress", resource is Url)',
        'when { resource.host like "*.test" || resource.host == "127.0.0.2" };',
        '@id("test-browser-sessions")',
        'permit (principal == Agent::"browser-agent", action == Action::"sandbox.create", resource == SandboxProfile::"browser");',
        '',
      ].join('\n'),
    );
    dirs = [egressDir, cedarDir];
    env = makeTestEnv([agent], { policyDir: cedarDir, egress: { policyDir: egressDir, toolPolicies: { 'browse.page': 'site', 'browse.fetch': 'site' } } });
    audit = createMemoryAuditSink();
    runtime = createRuntime(env.config, {
      logger: silentLogger,
      audit,
      egress: { resolver: createStaticResolver({ 'site.test': '127.0.0.2', 'forbidden.test': '127.0.0.3' }), dialer: createLoopbackOnlyDialer() },
    });
  }, 30_000);

  afterAll(async () => {
    await runtime?.close();
    await sites?.close();
    env?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 30_000);

  const principal = (): Promise<Principal> => runtime.runner.authenticate(`Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`);
  const browse = async (input: Record<string, unknown>, where: { sandbox?: string } = {}) => {
    const result = await runtime.runner.invoke(await principal(), { tool: 'browse.page', input, ...(where.sandbox === undefined ? { profile: 'browser' } : { sandbox: where.sandbox }) });
    return { ...result, output: result.output as PageOutput };
  };
  // A principal holds at most 5 browser sessions (sandboxes/browser.yaml): each test deletes its own.
  const sessions: string[] = [];
  const session = async (): Promise<string> => {
    const { id } = await runtime.runner.createSandbox(await principal(), { profile: 'browser' });
    sessions.push(id);
    return id;
  };
  afterEach(async () => {
    const p = await principal();
    for (const id of sessions.splice(0)) await runtime.runner.deleteSandbox(p, id).catch(() => undefined);
  });
  const sandboxOf = (invocationId: string, path: string): string => {
    const record = audit.records.find((r) => r.kind === 'invocation' && r.tool === 'browse.page' && r.outcome !== undefined && JSON.stringify(r).includes(path));
    expect(record, `the invocation record for ${path} (${invocationId})`).toBeDefined();
    return (record as AuditRecord).sandbox ?? '';
  };

  it('loads a page whose image and script fetch go to a forbidden host: both are blocked, listed, and audited with the sandbox id', async () => {
    const r = await browse({ url: `${sites.siteUrl}/leaky` });
    expect(r.output.status).toBe('ok');
    expect(r.output.title).toBe('Leaky page');
    expect(r.output.text).toContain('Revenue went up.');
    expect(r.output.links).toContainEqual({ href: `${sites.siteUrl}/plain`, text: 'next page' });
    const blocked = r.output.blocked.filter((b) => b.url.startsWith(sites.forbiddenUrl));
    expect(blocked.map((b) => b.url).sort()).toEqual([`${sites.forbiddenUrl}/collect?d=secret`, `${sites.forbiddenUrl}/pixel.png`]);
    for (const b of blocked) expect(b).toMatchObject({ kind: 'request', code: 'no_matching_rule' });
    expect(sites.forbidden.seen).toEqual([]);
    // The sandbox's proxy credential ends at the proxy.
    expect(sites.site.headerNames.flat()).not.toContain('proxy-authorization');
    const sandbox = sandboxOf(r.id, '/leaky');
    expect(sandbox).toMatch(/\S/);
    const refused = audit.records.filter((a) => a.kind === 'egress' && a.sandbox === sandbox && a.decision?.result === 'deny');
    expect(refused.map((a) => a.resource).sort()).toEqual([`http://forbidden.test:${sites.forbidden.port}/collect`, `http://forbidden.test:${sites.forbidden.port}/pixel.png`]);
    expect(refused.every((a) => a.outcome === 'no_matching_rule')).toBe(true);
    // …and the page itself went through the same sandbox's channel.
    expect(audit.records.some((a) => a.kind === 'egress' && a.sandbox === sandbox && a.decision?.result === 'allow' && a.resource === `http://site.test:${sites.site.port}/leaky`)).toBe(true);
  });

  it('lists an https subresource whose tunnel the proxy refused, audited as a refused CONNECT of the sandbox', async () => {
    const r = await browse({ url: `${sites.siteUrl}/tunnel` });
    expect(r.output.status).toBe('ok');
    expect(r.output.blocked).toContainEqual({ kind: 'request', url: `https://forbidden.test:${sites.forbidden.port}/pixel.png`, code: 'tunnel_refused', reason: expect.stringContaining('CONNECT') });
    const sandbox = sandboxOf(r.id, '/tunnel');
    expect(audit.records).toContainEqual(expect.objectContaining({ kind: 'egress', sandbox, action: 'egress.connect', outcome: 'no_matching_rule' }));
    expect(sites.forbidden.seen).toEqual([]);
  });

  it("closes a sandbox's browser context when the sandbox ends", async () => {
    const contexts = () => runtime.runner.stats().browserContexts ?? 0;
    const settled = async (n: number) => {
      for (let i = 0; i < 50 && contexts() !== n; i++) await new Promise((done) => setTimeout(done, 50));
      return contexts();
    };
    const before = await settled(0);
    await browse({ url: `${sites.siteUrl}/plain` });
    expect(await settled(before)).toBe(before);
    const id = await session();
    await browse({ url: `${sites.siteUrl}/plain` }, { sandbox: id });
    expect(contexts()).toBe(before + 1);
    await runtime.runner.deleteSandbox(await principal(), id);
    expect(await settled(before)).toBe(before);
  });

  it('gives each sandbox its own cookies: a session logged in on one is not seen from another, nor from a per-call sandbox', async () => {
    const [one, two] = [await session(), await session()];
    await browse({ url: `${sites.siteUrl}/login` }, { sandbox: one });
    const mine = await browse({ url: `${sites.siteUrl}/whoami` }, { sandbox: one });
    expect(mine.output.text).toMatch(/cookie: session=[0-9a-f]{16}/);
    const theirs = await browse({ url: `${sites.siteUrl}/whoami` }, { sandbox: two });
    expect(theirs.output.text).toContain('cookie: none');
    // Each context presents its own sandbox's proxy credentials: the proxy files each request under it.
    // (Chromium also asks for /favicon.ico, when it gets to it.)
    const pathsOf = (sandbox: string) => audit.records.filter((a) => a.kind === 'egress' && a.sandbox === sandbox && !a.resource?.endsWith('/favicon.ico')).map((a) => a.resource);
    expect(pathsOf(one)).toEqual([`http://site.test:${sites.site.port}/login`, `http://site.test:${sites.site.port}/whoami`]);
    expect(pathsOf(two)).toEqual([`http://site.test:${sites.site.port}/whoami`]);
    const perCall = await browse({ url: `${sites.siteUrl}/whoami` });
    expect(perCall.output.text).toContain('cookie: none');
    // A per-call sandbox's cookies end with its call.
    await browse({ url: `${sites.siteUrl}/login` });
    expect((await browse({ url: `${sites.siteUrl}/whoami` })).output.text).toContain('cookie: none');
  });

  it('refuses a redirect to a forbidden host: the page is blocked, listed, and the host never sees a request', async () => {
    const r = await browse({ url: `${sites.siteUrl}/redirect-out` });
    expect(r.output.status).toBe('blocked');
    expect(r.failed).toBe(true);
    expect(r.output.error?.message).toContain('no_matching_rule');
    expect(r.output.blocked).toContainEqual(expect.objectContaining({ url: `${sites.forbiddenUrl}/landing`, code: 'no_matching_rule' }));
    expect(r.output.text).toBe('');
    expect(r.output.url).toBe(`${sites.forbiddenUrl}/landing`);
    expect(sites.forbidden.seen).toEqual([]);
  });

  it('keeps a session page open between calls and acts on the elements a snapshot named', async () => {
    const id = await session();
    const first = await browse({ url: `${sites.siteUrl}/form`, snapshot: true }, { sandbox: id });
    expect(first.output.navigated).toBe(true);
    const snapshot = first.output.snapshot ?? '';
    const box = /textbox "Query" \[ref=(e\d+)\]/.exec(snapshot)?.[1];
    const button = /button "Search" \[ref=(e\d+)\]/.exec(snapshot)?.[1];
    expect(box, snapshot).toBeDefined();
    expect(button, snapshot).toBeDefined();
    const second = await browse({ url: `${sites.siteUrl}/form`, actions: [{ type: 'fill', ref: box, value: 'cordon' }, { type: 'click', ref: button }] }, { sandbox: id });
    expect(second.output).toMatchObject({ status: 'ok', navigated: false });
    expect(second.output.text).toContain('You searched for cordon');
    // Selectors work too, and a ref that names nothing fails that action clearly.
    const third = await browse({ url: `${sites.siteUrl}/form`, actions: [{ type: 'fill', selector: '#q', value: 'again' }, { type: 'press', selector: '#q', key: 'Tab' }, { type: 'click', ref: 'e999', timeoutMs: 500 }] }, { sandbox: id });
    expect(third.output.status).toBe('error');
    expect(third.output.error).toMatchObject({ action: 2 });
    expect(third.output.error?.message).toContain('e999');
  });

  it('refuses file:, data:, chrome:, javascript: and about: URLs before any sandbox is made', async () => {
    for (const url of ['file:///etc/passwd', 'data:text/html,<h1>x</h1>', 'chrome://version', 'javascript:alert(1)', 'about:config', 'ftp://site.test/']) {
      const err = await browse({ url }).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(CordonError);
      expect((err as CordonError).code, url).toBe('INPUT_INVALID');
    }
  });

  it('never reads a local file, inline data or a browser page that a page redirects or links to', async () => {
    const redirect = await browse({ url: `${sites.siteUrl}/redirect-file` });
    expect(redirect.output.status).not.toBe('ok');
    expect(redirect.output.text).not.toContain('root:');
    const id = await session();
    await browse({ url: `${sites.siteUrl}/local-links` }, { sandbox: id });
    for (const link of ['#file', '#data', '#chrome']) {
      const r = await browse({ url: `${sites.siteUrl}/local-links`, actions: [{ type: 'click', selector: link, timeoutMs: 2000 }] }, { sandbox: id });
      expect(r.output.url, link).toMatch(/^http:\/\/site\.test:\d+\/local-links$/);
      expect(r.output.text, link).not.toMatch(/root:|DATA-PAGE-MARK|Chromium|Command Line/);
      expect(r.output.text, link).toBe('one two three');
    }
  });

  it('refuses downloads, whether navigated to or clicked', async () => {
    const direct = await browse({ url: `${sites.siteUrl}/download` });
    expect(direct.output.status).toBe('blocked');
    expect(direct.output.error?.message).toContain('downloads are refused');
    const clicked = await browse({ url: `${sites.siteUrl}/download-link`, actions: [{ type: 'click', selector: '#dl' }] });
    expect(clicked.output.blocked).toContainEqual(expect.objectContaining({ kind: 'download', code: 'download_refused' }));
  });

  it('survives a page that spins forever: the call times out, and the next call on the same session works', async () => {
    const id = await session();
    const spun = await browse({ url: `${sites.siteUrl}/loop`, timeoutMs: 3000, actions: [{ type: 'click', selector: 'p', timeoutMs: 2500 }] }, { sandbox: id });
    expect(spun.output.status).toBe('timeout');
    expect(spun.failed).toBe(true);
    const next = await browse({ url: `${sites.siteUrl}/plain` }, { sandbox: id });
    expect(next.output).toMatchObject({ status: 'ok', title: 'Plain' });
  }, 30_000);

  it('survives a page that eats memory: its renderer dies at its heap cap, the call says so, and the next call works', async () => {
    const id = await session();
    const bomb = await browse({ url: `${sites.siteUrl}/memory-bomb`, timeoutMs: 20_000, waitFor: '#never' }, { sandbox: id });
    expect(bomb.failed).toBe(true);
    // Killed at its heap cap well before the call's own time runs out: a crash, not a timeout.
    expect(bomb.output).toMatchObject({ status: 'error', error: { message: expect.stringContaining('renderer crashed') as string } });
    const next = await browse({ url: `${sites.siteUrl}/plain` }, { sandbox: id });
    expect(next.output).toMatchObject({ status: 'ok', title: 'Plain' });
  }, 60_000);

  it('dismisses alert, confirm and prompt dialogs and lists them', async () => {
    const r = await browse({ url: `${sites.siteUrl}/dialogs` });
    expect(r.output.status).toBe('ok');
    expect(r.output.text).toContain('after dialogs');
    expect(r.output.dialogs).toEqual([
      { type: 'alert', message: 'first' },
      { type: 'confirm', message: 'second?' },
      { type: 'prompt', message: 'third?' },
    ]);
  });

  it('closes popups and lists them', async () => {
    const r = await browse({ url: `${sites.siteUrl}/popups` });
    expect(r.output.status).toBe('ok');
    expect(r.output.text).toContain('opener');
    expect(r.output.blocked.filter((b) => b.kind === 'popup').length).toBeGreaterThanOrEqual(1);
  });

  it('reads a huge DOM within the limits, cutting the text', async () => {
    const r = await browse({ url: `${sites.siteUrl}/huge-dom`, timeoutMs: 20_000 });
    expect(['ok', 'timeout']).toContain(r.output.status);
    if (r.output.status === 'ok') {
      expect(r.output.truncated).toBe(true);
      expect(r.output.text.length).toBeLessThanOrEqual(100_000);
    }
    expect((await browse({ url: `${sites.siteUrl}/plain` })).output.status).toBe('ok');
  }, 40_000);

  it('sends websockets through the proxy, where plain ws: is refused: no upgrade reaches the site', async () => {
    const r = await browse({ url: `${sites.siteUrl}/websocket`, waitFor: '#ws-done' });
    expect(r.output.text).toBe('ws failed');
    expect(r.output.blocked).toContainEqual(expect.objectContaining({ kind: 'websocket', code: 'websocket_refused', url: `ws://site.test:${sites.site.port}/socket` }));
    expect(sites.site.upgrades).toBe(0);
    const sandbox = sandboxOf(r.id, '/websocket');
    expect(audit.records.some((a) => a.kind === 'egress' && a.sandbox === sandbox && a.action === 'egress.connect' && a.decision?.result !== 'allow')).toBe(true);
  });

  it('proxies loopback too: a fetch by IP literal goes through the proxy and is refused there', async () => {
    const r = await browse({ url: `${sites.siteUrl}/direct-ip` });
    expect(r.output.blocked).toContainEqual(expect.objectContaining({ url: `http://127.0.0.2:${sites.site.port}/by-ip`, code: 'ip_literal_not_listed' }));
    expect(sites.site.seen).not.toContain('/by-ip');
  });

  it('lets WebRTC send no UDP: STUN to a loopback address never arrives', async () => {
    const r = await browse({ url: `${sites.siteUrl}/webrtc`, waitFor: '#rtc-done' });
    expect(r.output.status).toBe('ok');
    expect(r.output.text).toContain('gathered');
    expect(sites.udp.datagrams).toBe(0);
  });

  it('returns a PNG screenshot, and leaves one out over the size cap', async () => {
    const small = await browse({ url: `${sites.siteUrl}/plain`, screenshot: true });
    const shot = small.output.screenshot as { mimeType: string; base64: string; bytes: number };
    expect(shot.mimeType).toBe('image/png');
    expect(Buffer.from(shot.base64, 'base64').subarray(1, 4).toString()).toBe('PNG');
    const noisy = await browse({ url: `${sites.siteUrl}/noise`, screenshot: true });
    expect(noisy.output.screenshot).toMatchObject({ omitted: expect.stringContaining('cap') });
    expect(noisy.output.screenshot).not.toHaveProperty('base64');
  });

  it('fails only the call that was using Chromium when it died, and starts it again for the next', async () => {
    await browse({ url: `${sites.siteUrl}/plain` });
    const id = await session();
    const before = runtime.runner.stats().browserLaunches ?? 0;
    const inFlight = browse({ url: `${sites.siteUrl}/loop`, timeoutMs: 10_000, actions: [{ type: 'click', selector: 'p', timeoutMs: 9000 }] }, { sandbox: id }).catch((e: unknown) => e);
    await new Promise((done) => setTimeout(done, 1500));
    killChromium();
    const failed = await inFlight;
    expect(failed).toBeInstanceOf(CordonError);
    expect((failed as CordonError).code).toBe('SANDBOX_FAILED');
    const next = await browse({ url: `${sites.siteUrl}/plain` }, { sandbox: id });
    expect(next.output).toMatchObject({ status: 'ok', title: 'Plain' });
    expect(runtime.runner.stats().browserLaunches).toBe(before + 1);
  }, 40_000);
});

/** Kills the Chromium this test process started (its own child), by pid. */
function killChromium(): void {
  const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  const line = children.split('\n').find((l) => /chromium/.test(l) && /--remote-debugging-pipe/.test(l));
  expect(line, children).toBeDefined();
  process.kill(Number(line!.trim().split(/\s+/)[0]), 'SIGKILL');
}
