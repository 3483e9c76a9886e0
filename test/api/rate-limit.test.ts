import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const coder = makeTestAgent('coder', ['coding']);
let env: TestEnv;
let server: TestServer;

beforeAll(async () => {
  env = makeTestEnv([coder], { sandbox: { isolate: { maxConcurrent: 1, maxQueued: 0, warmIsolatesPerHost: 0 } } });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const call = (source: string, timeoutMs: number) =>
  request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor('coder'))}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source, timeoutMs } }),
  });

it('answers 429 RATE_LIMITED with Retry-After when every isolate slot and the queue are taken, and serves again after', async () => {
  const busy = call('while (true) {}', 1500);
  // The busy call takes the only slot right after its `started` record is on disk: wait for that
  // record, so a poll below cannot take the slot first (and leave the busy call refused instead).
  for (let i = 0; i < 500 && !server.audit.records.some((r) => r.outcome === 'started'); i++) await new Promise((r) => setTimeout(r, 10));
  // The busy call holds the only slot until its timeout; poll until it is running.
  let refused: Awaited<ReturnType<typeof call>> | undefined;
  for (let i = 0; i < 100 && refused === undefined; i++) {
    const res = await call('1', 1000);
    if (res.statusCode === 429) refused = res;
    else await res.body.dump();
  }
  expect(refused?.statusCode).toBe(429);
  expect(refused?.headers['retry-after']).toBe('1');
  expect(((await refused?.body.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
  const first = await busy;
  expect(((await first.body.json()) as { status: string }).status).toBe('timeout');
  const after = await call('2+2', 1000);
  expect(((await after.body.json()) as { output: { value: number } }).output.value).toBe(4);
});
