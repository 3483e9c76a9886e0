import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoopbackOnlyDialer, createStaticResolver } from '../../src/egress/index.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { makeEgressPolicyDir } from '../support/egress-dir.ts';
import { createFailingAuditSink } from '../support/failing-audit-sink.ts';

// browse.fetch through the real API: the sandbox's egress guard decides every hop, pages become
// readable text, and the session facts it sets (untrusted content) and the file tools set
// (sensitive reads) feed the shipped chain rules.
const SHIPPED = resolve(import.meta.dirname, '..', '..');
const coder = makeTestAgent('coder', ['coding']);
let env: TestEnv;
let server: TestServer;
let docs: Site;
let evil: Site;
const dirs: string[] = [];

interface Site {
  server: Server;
  port: number;
  hits: string[];
}

/** A loopback test site: each path answers with its own content type and body. */
async function startSite(address: string, routes: Record<string, (port: number) => { type?: string; body?: string | Buffer; status?: number; location?: string }>): Promise<Site> {
  const hits: string[] = [];
  const site: Site = { server: createServer(), port: 0, hits };
  site.server.on('request', (req, res) => {
    hits.push(req.url ?? '');
    const route = routes[(req.url ?? '/').split('?')[0] ?? '/'];
    if (route === undefined) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such page');
    const r = route(site.port);
    res.writeHead(r.status ?? 200, { ...(r.type === undefined ? {} : { 'content-type': r.type }), ...(r.location === undefined ? {} : { location: r.location }) }).end(r.body ?? '');
  });
  await new Promise<void>((ok) => site.server.listen(0, address, ok));
  site.port = (site.server.address() as { port: number }).port;
  return site;
}

const profile = (name: string, egressPolicy: string | null, tools: string) =>
  readFileSync(join(SHIPPED, 'sandboxes', 'js.yaml'), 'utf8')
    .replace(/^name: js$/m, `name: ${name}`)
    .replace(/^tools: \[.*\]$/m, `tools: [${tools}]`)
    .replace(/^egressPolicy: null$/m, `egressPolicy: ${egressPolicy ?? 'null'}`)
    .replace(/^sensitivePaths: .*$/m, 'sensitivePaths: ["*.pem"]');

beforeAll(async () => {
  evil = await startSite('127.0.0.3', { '/': () => ({ type: 'text/html', body: '<title>stolen</title>' }) });
  docs = await startSite('127.0.0.2', {
    '/page': (port) => ({
      type: 'text/html; charset=utf-8',
      body: `<!doctype html><html><head><title>Docs home</title></head><body><nav><a href="/nav">Nav</a></nav><article><h1>Install</h1><p>Run the installer and read <a href="/guide?x=1">the guide</a>. ${'Cordon keeps agents in their lane. '.repeat(20)}</p><p>Elsewhere: <a href="http://docs.test:${port}/abs">absolute</a>.</p><script>document.title = 'never run'</script></article></body></html>`,
    }),
    '/notes.txt': () => ({ type: 'text/plain; charset=utf-8', body: 'plain notes: é\n' }),
    '/data.json': () => ({ type: 'application/json', body: '{"ok":true}' }),
    '/logo.png': () => ({ type: 'image/png', body: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]) }),
    '/missing': () => ({ status: 404, type: 'text/plain', body: 'gone' }),
    '/to-evil': () => ({ status: 302, location: `http://evil.test:${evil.port}/` }),
    '/to-page': (port) => ({ status: 301, location: `http://docs.test:${port}/page` }),
  });
  const egressDir = makeEgressPolicyDir();
  const allowDocs = ['allow:', `  - host: docs.test:${docs.port}`, 'allow_cidrs: [127.0.0.0/8]', ''];
  writeFileSync(join(egressDir, 'docs-web.yaml'), ['name: docs-web', 'mode: enforce', ...allowDocs].join('\n'));
  writeFileSync(join(egressDir, 'docs-trusted.yaml'), ['name: docs-trusted', 'mode: enforce', 'trusted: true', ...allowDocs].join('\n'));
  const cedarDir = mkdtempSync(join(tmpdir(), 'cordon-cedar-'));
  cpSync(join(SHIPPED, 'policies'), cedarDir, { recursive: true });
  // The coding group fetches only trusted https hosts; for these tests it may fetch the test sites.
  writeFileSync(join(cedarDir, 'browse-tests.cedar'), '@id("test-coder-reads-test-sites")\npermit (principal == Agent::"coder", action == Action::"net.fetch", resource is Url) when { resource.host like "*.test" };\n');
  const profileDir = mkdtempSync(join(tmpdir(), 'cordon-profiles-'));
  cpSync(join(SHIPPED, 'sandboxes'), profileDir, { recursive: true });
  const fileTools = 'file.read, file.write, file.edit, file.list, file.stat, file.mkdir, file.move, file.delete';
  writeFileSync(join(profileDir, 'webdev.yaml'), profile('webdev', 'docs-web', `browse.fetch, ${fileTools}`));
  writeFileSync(join(profileDir, 'webdev-trusted.yaml'), profile('webdev-trusted', 'docs-trusted', `browse.fetch, ${fileTools}`));
  writeFileSync(join(profileDir, 'offline-web.yaml'), profile('offline-web', null, 'browse.fetch'));
  dirs.push(egressDir, cedarDir, profileDir);
  env = makeTestEnv([coder], {
    policyDir: cedarDir,
    egress: { policyDir: egressDir },
    sandbox: { profileDir, defaultProfile: 'webdev', container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } },
  });
  server = await startTestServer(env.config, { egress: { resolver: createStaticResolver({ 'docs.test': '127.0.0.2', 'evil.test': '127.0.0.3' }), dialer: createLoopbackOnlyDialer() } });
});

afterAll(async () => {
  await server?.close();
  for (const s of [docs, evil]) s?.server.close();
  env?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const bearer = (agent: TestAgent) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`;

async function call(path: string, body: unknown) {
  const res = await request(`${server.url}${path}`, { method: 'POST', headers: { authorization: bearer(coder), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
}

const invoke = (tool: string, input: unknown, extra: Record<string, unknown> = {}) => call('/v1/invocations', { tool, input, ...extra });
const fetchPage = (path: string, extra: Record<string, unknown> = {}) => invoke('browse.fetch', { url: `http://docs.test:${docs.port}${path}` }, extra);
const sandbox = async (profileName: string) => (await call('/v1/sandboxes', { profile: profileName })).json.id as string;

describe('browse.fetch', () => {
  it('reads an HTML page as title, main text and absolute links; scripts never run', async () => {
    const r = await fetchPage('/page');
    expect(r.status).toBe(200);
    const out = r.json.output;
    expect(out).toMatchObject({ url: `http://docs.test:${docs.port}/page`, status: 200, contentType: 'text/html; charset=utf-8', title: 'Docs home', truncated: false });
    expect(out.text).toContain('Run the installer and read the guide.');
    expect(out.text).not.toContain('never run');
    expect(out.links).toEqual(expect.arrayContaining([{ href: `http://docs.test:${docs.port}/guide?x=1`, text: 'the guide' }, { href: `http://docs.test:${docs.port}/abs`, text: 'absolute' }]));
  });

  it('passes text types through, gives HTML itself on request, and follows an allowed redirect', async () => {
    expect((await fetchPage('/notes.txt')).json.output).toMatchObject({ text: 'plain notes: é\n', title: '', links: [] });
    expect((await fetchPage('/data.json')).json.output).toMatchObject({ text: '{"ok":true}', contentType: 'application/json' });
    expect((await invoke('browse.fetch', { url: `http://docs.test:${docs.port}/page`, format: 'html' })).json.output.text).toMatch(/^<!doctype html>.*<script>/s);
    expect((await fetchPage('/to-page')).json.output).toMatchObject({ url: `http://docs.test:${docs.port}/page`, title: 'Docs home' });
  });

  it('an HTTP error is the tool\'s failed result, not Cordon\'s refusal', async () => {
    expect(await fetchPage('/missing')).toMatchObject({ status: 200, json: { status: 'http_error', output: { status: 404, text: 'gone' } } });
  });

  it('refuses binary content with a clear error', async () => {
    expect(await fetchPage('/logo.png')).toMatchObject({ status: 422, json: { error: { code: 'BROWSE_CONTENT_UNSUPPORTED', details: { contentType: 'image/png' } } } });
  });

  it('decides each redirect afresh: a hop to a host the policy does not allow is refused there, and audited with the sandbox', async () => {
    const before = server.audit.records.length;
    const r = await fetchPage('/to-evil');
    expect(r).toMatchObject({ status: 403, json: { error: { code: 'EGRESS_DENIED' } } });
    expect(r.json.error.message).toContain('evil.test');
    expect(evil.hits).toEqual([]);
    const hops = server.audit.records.slice(before).filter((x) => x.kind === 'egress');
    expect(hops.map((x) => [x.decision?.result, x.egress?.host])).toEqual([['allow', 'docs.test'], ['deny', 'evil.test']]);
    const invocation = server.audit.records.slice(before).find((x) => x.kind === 'invocation' && x.tool === 'browse.fetch');
    expect(invocation?.sandbox).toMatch(/^sbx_/);
    expect(hops.every((x) => x.sandbox === invocation?.sandbox)).toBe(true);
  });

  it.each([
    ['file:///etc/passwd'],
    ['javascript:alert(1)'],
    ['data:text/html,<h1>x</h1>'],
    [`http://user@docs.test:1/`],
    ['ftp://docs.test/x'],
    ['not a url'],
  ])('refuses %s before anything is fetched', async (url) => {
    const hits = docs.hits.length;
    expect(await invoke('browse.fetch', { url })).toMatchObject({ status: 400, json: { error: { code: 'INPUT_INVALID', details: { field: '/url' } } } });
    expect(docs.hits.length).toBe(hits);
  });

  it('a profile without an egress policy has no network: refused, saying so', async () => {
    expect(await fetchPage('/page', { profile: 'offline-web' })).toMatchObject({ status: 403, json: { error: { code: 'EGRESS_DENIED', details: { reason: 'no_egress' } } } });
  });
});

describe('chain rules across file and browse tools, in one session', () => {
  it('after a sensitive file.read, a browse.fetch of an untrusted host is denied by the chain rule, and both decisions are audited', async () => {
    const id = await sandbox('webdev');
    expect((await fetchPage('/notes.txt', { sandbox: id })).status).toBe(200);
    expect(await invoke('file.write', { path: 'certs/server.pem', content: '-----BEGIN KEY-----' }, { sandbox: id })).toMatchObject({ status: 202, json: { status: 'pending_approval' } });
    // (untrusted content was read above: writes now wait for approval; a fresh session shows the read rule alone.)
    const fresh = await sandbox('webdev');
    await invoke('file.mkdir', { path: 'certs' }, { sandbox: fresh });
    expect(await invoke('file.write', { path: 'certs/server.pem', content: '-----BEGIN KEY-----' }, { sandbox: fresh })).toMatchObject({ status: 200 });
    const before = server.audit.records.length;
    expect(await invoke('file.read', { path: 'certs/server.pem' }, { sandbox: fresh })).toMatchObject({ status: 200, json: { output: { content: '-----BEGIN KEY-----' } } });
    const hits = docs.hits.length;
    const denied = await fetchPage('/page', { sandbox: fresh });
    expect(denied).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    expect(JSON.stringify(denied.json.error.details)).toContain('chain-no-untrusted-egress-after-sensitive-read');
    expect(docs.hits.length).toBe(hits);
    const records = server.audit.records.slice(before).filter((x) => x.kind === 'invocation' && x.sandbox === fresh && x.outcome !== 'started');
    expect(records.map((x) => [x.tool, x.action, x.decision?.result, x.outcome])).toEqual([
      ['file.read', 'fs.read', 'allow', 'ok'],
      ['browse.fetch', 'net.fetch', 'deny', 'POLICY_DENIED'],
    ]);
    expect(records[1]?.decision?.ruleId).toBe('chain-no-untrusted-egress-after-sensitive-read');
  });

  it('reading a path that is not sensitive sets nothing: the fetch goes on', async () => {
    const id = await sandbox('webdev');
    await invoke('file.write', { path: 'notes.md', content: 'hello' }, { sandbox: id });
    expect((await invoke('file.read', { path: 'notes.md' }, { sandbox: id })).status).toBe(200);
    expect((await fetchPage('/page', { sandbox: id })).status).toBe(200);
  });

  it('after untrusted content, file changes wait for approval; content from a trusted policy sets no such fact', async () => {
    const id = await sandbox('webdev');
    expect((await fetchPage('/page', { sandbox: id })).status).toBe(200);
    expect(await invoke('file.write', { path: 'todo.md', content: 'do what the page said' }, { sandbox: id })).toMatchObject({ status: 202, json: { status: 'pending_approval', approval: { policyId: 'chain-approve-changes-after-untrusted-content' } } });
    expect(await invoke('file.read', { path: 'todo.md' }, { sandbox: id })).toMatchObject({ status: 404, json: { error: { code: 'FS_NOT_FOUND' } } });

    const trusted = await sandbox('webdev-trusted');
    expect((await fetchPage('/page', { sandbox: trusted })).status).toBe(200);
    expect(await invoke('file.write', { path: 'todo.md', content: 'fine' }, { sandbox: trusted })).toMatchObject({ status: 200 });
    // …and after a sensitive read, a trusted host is still reachable (the rule is about untrusted egress).
    await invoke('file.write', { path: 'k.pem', content: 'key' }, { sandbox: trusted });
    expect((await invoke('file.read', { path: 'k.pem' }, { sandbox: trusted })).status).toBe(200);
    expect((await fetchPage('/notes.txt', { sandbox: trusted })).status).toBe(200);
  });
});

describe('an egress record that cannot be written', () => {
  it('fails the call that made the request: the answer is AUDIT_UNAVAILABLE, not the page', async () => {
    // Egress records are written as requests happen, not awaited; a failed one fails the sink,
    // so the call is refused at its final record (audit-append.ts).
    const audit = createFailingAuditSink((r) => r.kind === 'egress');
    const own = await startTestServer(env.config, { audit, egress: { resolver: createStaticResolver({ 'docs.test': '127.0.0.2' }), dialer: createLoopbackOnlyDialer() } });
    try {
      const hits = docs.hits.length;
      const res = await request(`${own.url}/v1/invocations`, { method: 'POST', headers: { authorization: bearer(coder), 'content-type': 'application/json' }, body: JSON.stringify({ tool: 'browse.fetch', input: { url: `http://docs.test:${docs.port}/notes.txt` } }) });
      expect(res.statusCode).toBe(503);
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('AUDIT_UNAVAILABLE');
      // The request did go out (its record is what failed) ...
      expect(docs.hits.slice(hits)).toEqual(['/notes.txt']);
      // ... and the log holds the call's started record; its egress and final records were refused.
      expect(audit.records.filter((r) => r.kind === 'invocation').map((r) => r.outcome)).toEqual(['started']);
      expect(audit.refused.map((r) => [r.kind, r.outcome])).toEqual([
        ['egress', '200'],
        ['invocation', 'ok'],
      ]);
    } finally {
      await own.close();
    }
  });
});
