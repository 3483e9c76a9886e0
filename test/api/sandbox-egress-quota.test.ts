import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoopbackUpstream } from '../support/loopback-fixture.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { startUpstreamEgress, type UpstreamEgress } from '../support/upstream-egress.ts';

// A sandbox's egress share, counted on its isolate fetch as on its proxy channels, and what
// crosses into the isolate when the host side of fetch fails.
const MAX_REQUESTS = 20;
const coder = makeTestAgent('coder', ['coding']);
let env: TestEnv;
let server: TestServer;
let up: UpstreamEgress;
let upstream: LoopbackUpstream;

beforeAll(async () => {
  up = await startUpstreamEgress();
  upstream = up.upstream;
  env = makeTestEnv([coder], {
    policyDir: up.config.policyDir,
    egress: { ...up.config.egress, sandboxLimits: { maxRequests: MAX_REQUESTS } },
  });
  server = await startTestServer(env.config, up.serverOptions);
});

afterAll(async () => {
  await server?.close();
  await up?.close();
  env?.cleanup();
});

async function run(source: string): Promise<{ status: number; json: { status?: string; output?: { status: string; value?: unknown; error?: { message: string } } } }> {
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source, timeoutMs: 30_000 } }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as never };
}

/** Inside the isolate: what a rejected fetch carried across. */
const CATCH = `(e) => ({ name: e.name, message: e.message, stack: String(e.stack), keys: Object.getOwnPropertyNames(e).sort() })`;

/** Where a host stack would show: a host file, a Node internal, a file URL. */
const HOST_TRACE = /\/src\/|node:|file:\/\/|\.ts:\d|at .*\(\//;

describe('per-sandbox egress share on the isolate fetch', () => {
  it('stops a call making thousands of fetches at the request cap, with an error in the sandbox; the upstream sees at most the cap', async () => {
    const before = upstream.seen.length;
    const url = `http://up.test:${upstream.port}/`;
    const r = await run(`(async () => {
      let done = 0;
      for (let i = 0; i < 2000; i++) {
        try { await fetch('${url}'); done++; } catch (e) { return { done, error: (${CATCH})(e) }; }
      }
      return { done };
    })()`);
    expect(r.status).toBe(200);
    const value = r.json.output?.value as { done: number; error?: { name: string; message: string; stack: string } };
    expect(value.done).toBe(MAX_REQUESTS);
    expect(value.error?.name).toBe('TypeError');
    expect(value.error?.message).toMatch(/^fetch: EGRESS_LIMITED \(request_limit\): .*egress\.sandboxLimits\.maxRequests 20/);
    expect(upstream.seen.length - before).toBe(MAX_REQUESTS);
    // The share is the sandbox's: the next call (a new sandbox) fetches again.
    const next = await run(`(async () => (await fetch('${url}')).status)()`);
    expect(next.json.output?.value).toBe(200);
  });
});

describe('errors that cross into an isolate', () => {
  // Each fails on the host side of the bridge: the request checks, the egress share, the limiter.
  const failures: [string, string][] = [
    ['a method the host refuses', `fetch('http://up.test:${'${PORT}'}/', { method: 'GET\\nX' })`],
    ['a URL longer than the host accepts', `fetch('http://up.test/' + 'a'.repeat(20000))`],
  ];
  it.each(failures)('carry name and message only, never a host stack: %s', async (_what, expression) => {
    const source = `(async () => { try { await ${expression.replace('${PORT}', String(upstream.port))}; return 'no error'; } catch (e) { return (${CATCH})(e); } })()`;
    const r = await run(source);
    const e = r.json.output?.value as { name: string; message: string; stack: string; keys: string[] };
    expect(e.name).toBe('TypeError');
    expect(e.message).toMatch(/^fetch: /);
    expect(e.stack).not.toMatch(HOST_TRACE);
    expect(e.keys.filter((k) => k !== 'stack' && k !== 'message')).toEqual([]);
  });
});
