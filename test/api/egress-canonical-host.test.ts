import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.ts';
import { createLoopbackOnlyDialer, createStaticResolver } from '../../src/egress/index.ts';
import { startUpstream, type LoopbackUpstream } from '../support/loopback-fixture.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// Regression (issue 8, item 5): Cedar saw `[::ffff:7f00:1]` while the guard dialled
// 127.0.0.1, so a Cedar `forbid` on the IPv4 host was bypassed by another spelling.
// Cedar must see the egress layer's canonical host, whatever the sandbox wrote.
const SHIPPED_POLICIES = resolve(import.meta.dirname, '..', '..', 'policies');
const coder = makeTestAgent('coder', ['coding']);
let env: TestEnv;
let server: TestServer;
let upstream: LoopbackUpstream;
let upstream6: LoopbackUpstream;
let policyDir: string;
let cedarDir: string;
let logged = '';

beforeAll(async () => {
  upstream = await startUpstream('127.0.0.4');
  upstream6 = await startUpstream('::1');
  policyDir = mkdtempSync(join(tmpdir(), 'cordon-egress-'));
  // The bundled profiles name bundled egress policies (browser.yaml: browse-open).
  cpSync(resolve(import.meta.dirname, '..', '..', 'egress-policies'), policyDir, { recursive: true });
  // The egress policy lets the upstream through by name and by address: only Cedar stands in the way.
  writeFileSync(
    join(policyDir, 'loopback.yaml'),
    ['name: loopback', 'mode: enforce', 'allow:', `  - host: named.test:${upstream.port}`, `  - host: 127.0.0.4:${upstream.port}`, `  - host: "[::1]:${upstream6.port}"`, 'allow_cidrs: [127.0.0.0/8, "::1/128"]', ''].join('\n'),
  );
  // Loads, with a warning that `cordon serve` logs (file and line).
  writeFileSync(join(policyDir, 'pages.yaml'), ['name: pages', 'allow:', '  - host: "*.github.io"', ''].join('\n'));
  cedarDir = mkdtempSync(join(tmpdir(), 'cordon-cedar-'));
  cpSync(SHIPPED_POLICIES, cedarDir, { recursive: true });
  writeFileSync(
    join(cedarDir, 'canonical-host.cedar'),
    [
      '@id("test-coder-fetches")',
      'permit (principal == Agent::"coder", action == Action::"net.fetch", resource is Url);',
      '',
      '@id("test-no-127-0-0-4")',
      'forbid (principal, action == Action::"net.fetch", resource is Url) when { resource.host == "127.0.0.4" };',
      '',
      '// IPv6 as the egress layer spells it: RFC 5952, no brackets (as in egress policies and audit records).',
      '@id("test-no-ipv6-loopback")',
      'forbid (principal, action == Action::"net.fetch", resource is Url) when { resource.host == "::1" };',
      '',
    ].join('\n'),
  );
  env = makeTestEnv([coder], { policyDir: cedarDir, egress: { policyDir, toolPolicies: { code: 'loopback' } } });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged += chunk.toString();
      done();
    },
  });
  server = await startTestServer(env.config, {
    logger: createLogger('debug', sink),
    egress: { resolver: createStaticResolver({ 'named.test': '127.0.0.4' }), dialer: createLoopbackOnlyDialer() },
  });
});

afterAll(async () => {
  await server?.close();
  await upstream?.close();
  await upstream6?.close();
  env?.cleanup();
  if (policyDir !== undefined) rmSync(policyDir, { recursive: true, force: true });
  if (cedarDir !== undefined) rmSync(cedarDir, { recursive: true, force: true });
});

async function fetchFromIsolate(url: string): Promise<{ status: number; error: string | null; rule: string | null }> {
  const source = `(async () => { const res = await fetch(${JSON.stringify(url)}); const text = await res.text(); let rule = null; try { rule = JSON.parse(text).error.details.rule ?? null } catch {} return [res.status, res.headers.get('x-cordon-error'), rule] })()`;
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source, timeoutMs: 10_000 } }),
  });
  const json = (await res.body.json()) as { output: { status: string; value: [number, string | null, string | null] } };
  expect(json.output.status).toBe('ok');
  const [status, error, rule] = json.output.value;
  return { status, error, rule };
}

describe('a Cedar forbid on an IPv4 host holds for every spelling of it', () => {
  it('the control: the same upstream by name is fetched (Cedar decides on the name the sandbox asked for)', async () => {
    expect((await fetchFromIsolate(`http://named.test:${upstream.port}/`)).status).toBe(200);
  });

  // Every spelling the WHATWG parser or the egress layer turns into 127.0.0.4.
  it.each([
    'http://127.0.0.4:PORT/',
    'http://127.0.0.4.:PORT/',
    'http://2130706436:PORT/',
    'http://0x7f000004:PORT/',
    'http://0x7f.0.0.4:PORT/',
    'http://0x7f.4:PORT/',
    'http://0177.0.0.4:PORT/',
    'http://0177.0.0.04:PORT/',
    'http://127.4:PORT/',
    'http://127.0.4:PORT/',
    'http://[::ffff:7f00:4]:PORT/',
    'http://[::ffff:127.0.0.4]:PORT/',
    'http://[0:0:0:0:0:ffff:7f00:4]:PORT/',
    'http://[0000:0000:0000:0000:0000:FFFF:7F00:0004]:PORT/',
    'http://[::7f00:4]:PORT/',
    'http://[::127.0.0.4]:PORT/',
  ])('%s is refused by the forbid, and never reaches the upstream', async (spelling) => {
    const before = upstream.seen.length;
    const r = await fetchFromIsolate(spelling.replace('PORT', String(upstream.port)));
    expect(r).toEqual({ status: 403, error: expect.stringContaining('policy_denied') as unknown as string, rule: 'test-no-127-0-0-4' });
    expect(upstream.seen.length).toBe(before);
  });
});

describe('a Cedar forbid on an IPv6 host holds for every spelling of it', () => {
  // Cedar saw the WHATWG host `[::1]` while egress policies, audit records and session
  // facts say `::1`: a forbid written as the egress layer spells the host never matched.
  it.each(['http://[::1]:PORT/', 'http://[0:0:0:0:0:0:0:1]:PORT/', 'http://[0000:0000::0001]:PORT/', 'http://[::0:1]:PORT/'])('%s is refused by the forbid', async (spelling) => {
    const before = upstream6.seen.length;
    const r = await fetchFromIsolate(spelling.replace('PORT', String(upstream6.port)));
    expect(r).toEqual({ status: 403, error: expect.stringContaining('policy_denied') as unknown as string, rule: 'test-no-ipv6-loopback' });
    expect(upstream6.seen.length).toBe(before);
  });
});

describe('egress policy warnings at start-up', () => {
  it('logs a warning naming the file and line of a wildcard under a public suffix', () => {
    const line = logged.split('\n').find((l) => l.includes('*.github.io'));
    expect(line).toBeDefined();
    expect(JSON.parse(line ?? '{}')).toMatchObject({ level: expect.any(Number), file: join(policyDir, 'pages.yaml'), line: 3, msg: expect.stringContaining('wildcard directly under a public suffix') });
  });
});
