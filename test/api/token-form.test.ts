import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// Hostile form bodies on POST /v1/token, which anyone may call (no bearer token).
let env: TestEnv;
let server: TestServer;
const helper = makeTestAgent('helper', ['coding']);

beforeAll(async () => {
  env = makeTestEnv([helper]);
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const MiB = 1024 * 1024;

async function postForm(body: string | Buffer) {
  const res = await request(`${server.url}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return { status: res.statusCode, json: (await res.body.json()) as { error: string; error_description: string; cordon: { code: string; details: Record<string, unknown> } } };
}

describe('POST /v1/token form bodies', () => {
  it('answers a 1 MiB body of one repeated key with 400 while /healthz keeps answering (regression: 28 s of blocked event loop for 120 KB)', async () => {
    // Just under the body limit, so the parser (not the size check) answers.
    const body = 'grant_type=client_credentials&'.repeat(Math.floor((MiB - 1) / 30));
    const started = performance.now();
    const [token, health] = await Promise.all([
      postForm(body),
      // Sent while the form is being sent and parsed: the event loop must stay free.
      new Promise((resolve) => setTimeout(resolve, 5)).then(() => request(`${server.url}/healthz`)),
    ]);
    // A generous bound: seconds, where the old parser took minutes.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    expect(token.status).toBe(400);
    expect(token.json).toMatchObject({ error: 'invalid_request', cordon: { code: 'TOKEN_REQUEST_INVALID', details: { field: 'grant_type', reason: 'repeated' } } });
    expect(token.json.error_description).toContain('"grant_type"');
  }, 30_000);

  it.each([
    ['a huge single value', `grant_type=client_credentials&client_assertion=${'x'.repeat(512 * 1024)}`, 'value_too_long'],
    ['100k distinct keys', Array.from({ length: 100_000 }, (_, i) => `k${i}=1`).join('&'), 'too_many_parameters'],
    ['an over-long key', `${'k'.repeat(100)}=1`, 'name_too_long'],
    ['invalid percent-encoding', 'grant_type=%zzclient_credentials', 'bad_encoding'],
    ['percent-encoded bytes that are not UTF-8', 'grant_type=%ff', 'bad_encoding'],
    ['raw non-UTF-8 bytes', Buffer.from([...Buffer.from('grant_type='), 0xc3, 0x28]), 'bad_encoding'],
    ['a qs-style __proto__[polluted] key (an unknown name, ignored: nothing is merged)', '__proto__[polluted]=1&grant_type=client_credentials', 'missing'],
    ['a __proto__ key', '__proto__=1&grant_type=client_credentials', 'forbidden_name'],
    ['a constructor key', 'constructor=1&grant_type=client_credentials', 'forbidden_name'],
  ])('refuses %s with 400 invalid_request naming the reason', async (_name, body, reason) => {
    const res = await postForm(body);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_request', cordon: { code: 'TOKEN_REQUEST_INVALID', details: { reason } } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a body over the limit with 413 invalid_request', async () => {
    const res = await postForm(`a=${'x'.repeat(2 * MiB)}`);
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: 'invalid_request', cordon: { code: 'REQUEST_TOO_LARGE' } });
  });

  it('answers an empty form as a token request missing grant_type', async () => {
    const res = await postForm('');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_request', cordon: { details: { field: 'grant_type', reason: 'missing' } } });
  });

  it('answers a request with no body and no content type with 415 saying to send a form', async () => {
    const res = await request(`${server.url}/v1/token`, { method: 'POST' });
    expect(res.statusCode).toBe(415);
    const json = (await res.body.json()) as { error: string; error_description: string };
    expect(json.error).toBe('invalid_request');
    expect(json.error_description).toContain('application/x-www-form-urlencoded');
  });
});
