import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawHead, writeAllThenRead } from '../support/raw-http.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';

// How request bodies are refused, as clients see them over a real socket.
let env: TestEnv;
let server: TestServer;
const coder = makeTestAgent('coder', ['coding']);
const bearer = () => `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}`;

beforeAll(async () => {
  env = makeTestEnv([coder]);
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const MiB = 1024 * 1024;
const jsonBody = (bytes: number) => Buffer.from(JSON.stringify({ tool: 'code', input: { language: 'javascript', source: 'x'.repeat(bytes) } }));

describe('an oversized body, from a client that writes it all before reading', () => {
  it('gets a readable 413 REQUEST_TOO_LARGE, not a reset (regression: the socket was closed under the client)', async () => {
    // Larger than the loopback socket buffers, so the client is still writing when the 413 is sent.
    const body = jsonBody(12 * MiB);
    const res = await writeAllThenRead(server.url, rawHead('POST', '/v1/invocations', { authorization: bearer(), 'content-type': 'application/json', 'content-length': body.length }), body);
    expect(res.error).toBeNull();
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: { code: 'REQUEST_TOO_LARGE' } });
  });

  it('gets a readable 413 when the request asks to close the connection (as urllib does)', async () => {
    const body = jsonBody(12 * MiB);
    const res = await writeAllThenRead(server.url, rawHead('POST', '/v1/invocations', { authorization: bearer(), 'content-type': 'application/json', 'content-length': body.length, connection: 'close' }), body);
    expect(res.error).toBeNull();
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: { code: 'REQUEST_TOO_LARGE' } });
  });

  it('gets a readable 413 on the token endpoint too, in OAuth form', async () => {
    const body = Buffer.from(`grant_type=client_credentials&client_assertion=${'x'.repeat(12 * MiB)}`);
    const res = await writeAllThenRead(server.url, rawHead('POST', '/v1/token', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length }), body);
    expect(res.error).toBeNull();
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: 'invalid_request', cordon: { code: 'REQUEST_TOO_LARGE' } });
  });

  it('gets a readable 413 when the body is chunked (no content-length to refuse it up front)', async () => {
    const piece = Buffer.alloc(256 * 1024, 0x61);
    const chunk = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
    const body = Buffer.concat([...Array.from({ length: 48 }, () => chunk), Buffer.from('0\r\n\r\n')]);
    const res = await writeAllThenRead(server.url, rawHead('POST', '/v1/invocations', { authorization: bearer(), 'content-type': 'application/json', 'transfer-encoding': 'chunked' }), body);
    expect(res.error).toBeNull();
    expect(res.status).toBe(413);
  });

  it('an anonymous one gets a readable 401 (auth still runs before the body is read)', async () => {
    const body = jsonBody(12 * MiB);
    const res = await writeAllThenRead(server.url, rawHead('POST', '/v1/invocations', { 'content-type': 'application/json', 'content-length': body.length }), body);
    expect(res.error).toBeNull();
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: { code: 'AUTH_MISSING_TOKEN' } });
  });

  it('is cut off past server.unreadBodyDiscardBytes: an anonymous client cannot stream at the server for ever', async () => {
    // 16 MiB is discarded at most (regression: Node discarded an unread body to its end, however long).
    const body = jsonBody(48 * MiB);
    const res = await writeAllThenRead(server.url, rawHead('POST', '/v1/invocations', { 'content-type': 'application/json', 'content-length': body.length }), body);
    expect(res.error).not.toBeNull();
  });
});

describe('content types on the JSON API', () => {
  const post = (headers: Record<string, string>, body?: string) =>
    request(`${server.url}/v1/invocations`, { method: 'POST', headers: { authorization: bearer(), ...headers }, ...(body === undefined ? {} : { body }) }).then(async (res) => ({
      status: res.statusCode,
      json: (await res.body.json()) as { error: { code: string; message: string } },
    }));

  it.each([
    ['a form, as curl -d sends by default (regression: "body/{…} is not a known field")', { 'content-type': 'application/x-www-form-urlencoded' }, '{"tool":"code","input":{}}'],
    ['a body with no content type', {}, '{"tool":"code","input":{}}'],
    ['no body and no content type', {}, undefined],
    ['text/plain', { 'content-type': 'text/plain' }, '{"tool":"code","input":{}}'],
  ])('answers 415 saying to send application/json for %s', async (_name, headers, body) => {
    const res = await post(headers as Record<string, string>, body);
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(res.json.error.message).toContain('content-type: application/json');
  });
});
