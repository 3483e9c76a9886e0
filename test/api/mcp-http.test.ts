import { connect } from 'node:net';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunnerApi } from '../../src/api/runner-api.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { claimsFor, ed25519Token, assertionToken, nowSec } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// MCP over Streamable HTTP at /mcp, with the official client SDK, against the real runner API
// on a loopback port and the shipped policies (group `coding`: code and file tools; deletes
// wait for an operator's approval).
const coder = makeTestAgent('coder', ['coding']);
const idle = makeTestAgent('idle', []);
const stranger = makeTestAgent('stranger', ['coding']);

let env: TestEnv;
let server: TestServer;
beforeAll(async () => {
  env = makeTestEnv([coder, idle], { server: { host: '127.0.0.1', port: 0, bodyLimitBytes: 64 * 1024 } });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const token = (agent: TestAgent, audience = 'cordon') => ed25519Token(agent.privateKey, claimsFor(agent.id, audience));
const mcpUrl = () => `${server.url}/mcp`;
const metadataUrl = () => `${server.url}/.well-known/oauth-protected-resource/mcp`;

/** Every request the client sent: its headers, so a test can see what the SDK put on the wire. */
type Sent = { headers: Headers; body: string; answeredAs: string | null };

async function connectAs(agent: TestAgent, options: { modern?: boolean; rewrite?: (headers: Headers, body: string) => void } = {}): Promise<{ client: Client; sent: Sent[] }> {
  const sent: Sent[] = [];
  const client = new Client({ name: 'cordon-test', version: '1.0.0' }, options.modern === true ? { versionNegotiation: { mode: 'auto' } } : {});
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl()), {
    authProvider: { token: async () => token(agent) },
    fetch: async (url, init) => {
      const headers = new Headers(init?.headers);
      const body = typeof init?.body === 'string' ? init.body : '';
      options.rewrite?.(headers, body);
      const res = await fetch(url, { ...init, headers });
      sent.push({ headers, body, answeredAs: res.headers.get('content-type') });
      return res;
    },
  });
  await client.connect(transport);
  return { client, sent };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers of several shapes, checked field by field
type Json = Record<string, any>;

async function post(body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: Json }> {
  const res = await request(mcpUrl(), { method: 'POST', headers: { accept: 'application/json, text/event-stream', ...headers }, body });
  const text = await res.body.text();
  // The 2025-era leg may answer as a one-event SSE stream: its data line is the JSON-RPC message.
  const data = String(res.headers['content-type']).startsWith('text/event-stream') ? (/^data: (.*)$/m.exec(text)?.[1] ?? '') : text;
  return { status: res.statusCode, headers: res.headers, json: (data === '' ? null : JSON.parse(data)) as Json };
}

const jsonHeaders = (agent: TestAgent | null) => ({ 'content-type': 'application/json', ...(agent === null ? {} : { authorization: `Bearer ${token(agent)}` }) });
const listBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
const callBody = (name: string, args: unknown) => JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } });

const invocations = () => server.audit.records.filter((r) => r.kind === 'invocation' && r.outcome !== 'started');
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

describe.each([
  ['2025-era client (initialize, stateless legacy leg)', false],
  ['2026-07-28 client (server/discover, per-request envelope)', true],
])('the official MCP client, %s', (_label, modern) => {
  it('connects with an agent token and lists only the tools its policies could allow', async () => {
    const { client, sent } = await connectAs(coder, { modern });
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['code', 'file.read', 'file.write', 'file.delete']));
      // browse.page needs Action::"browse.page", which no policy grants the coding group.
      expect(names).not.toContain('browse.page');
      const code = tools.find((t) => t.name === 'code');
      expect(code?.inputSchema).toMatchObject({ type: 'object', required: expect.arrayContaining(['language', 'source']) });
      expect(code?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
      expect(tools.find((t) => t.name === 'file.delete')?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
      if (modern) {
        // The client really spoke the 2026-07-28 revision: it sent the standard request headers.
        const lists = sent.filter((s) => s.headers.get('mcp-method') === 'tools/list');
        expect(lists.length).toBeGreaterThan(0);
        // Stateless: each answer is one JSON body, no stream held open.
        for (const s of lists) expect(s.answeredAs).toMatch(/^application\/json/);
      }
    } finally {
      await client.close();
    }
  });

  it('calls code and gets its output as structured content and text, audited like any call', async () => {
    const { client, sent } = await connectAs(coder, { modern });
    try {
      const before = invocations().length;
      const result = (await client.callTool({ name: 'code', arguments: { language: 'javascript', source: 'console.log("hi"); 6 * 7' } })) as CallToolResult;
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ status: 'ok', value: 42, stdout: 'hi\n' });
      expect(JSON.parse(text(result))).toMatchObject({ status: 'ok', value: 42 });
      const id = (result._meta?.['cordon/invocation'] as { id: string }).id;
      const records = invocations().slice(before);
      expect(records).toEqual([expect.objectContaining({ invocation: id, tool: 'code', agent: 'coder', outcome: 'ok' })]);
      // The bearer tokens it sent went no further than authentication: no record holds one.
      const tokens = sent.map((s) => s.headers.get('authorization')?.slice('Bearer '.length)).filter((t) => t !== undefined);
      expect(tokens.length).toBeGreaterThan(0);
      const recorded = JSON.stringify(server.audit.records);
      for (const t of tokens) expect(recorded).not.toContain(t);
    } finally {
      await client.close();
    }
  });

  it('a denied call is an error result naming the reason and the code, and is audited as denied', async () => {
    const { client } = await connectAs(coder, { modern });
    try {
      // coding may fetch only hosts marked trusted; this one is not.
      const result = (await client.callTool({ name: 'browse.fetch', arguments: { url: 'https://untrusted.test/' } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('POLICY_DENIED');
      expect(text(result)).toContain('no permit matched');
      expect(result.structuredContent).toMatchObject({ error: { code: 'POLICY_DENIED' } });
      expect(invocations().at(-1)).toMatchObject({ tool: 'browse.fetch', agent: 'coder', outcome: 'POLICY_DENIED' });
    } finally {
      await client.close();
    }
  });

  it('a tool input that fails validation is an INPUT_INVALID error result naming the field', async () => {
    const { client } = await connectAs(coder, { modern });
    try {
      const result = (await client.callTool({ name: 'code', arguments: { language: 'javascript' } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toMatchObject({ error: { code: 'INPUT_INVALID' } });
      expect(text(result)).toMatch(/source/);
    } finally {
      await client.close();
    }
  });

  it('a delete in a session sandbox waits for approval: a normal result carrying the approval and invocation ids', async () => {
    const bearer = `Bearer ${token(coder)}`;
    const made = await request(`${server.url}/v1/sandboxes`, { method: 'POST', headers: { authorization: bearer, 'content-type': 'application/json' }, body: JSON.stringify({ profile: 'js' }) });
    const sandbox = ((await made.body.json()) as { id: string }).id;
    const { client } = await connectAs(coder, { modern });
    try {
      const meta = { 'cordon/sandbox': sandbox };
      const wrote = (await client.callTool({ name: 'file.write', arguments: { path: 'doomed.txt', content: 'bye' }, _meta: meta })) as CallToolResult;
      expect(wrote.isError).toBeFalsy();
      const held = (await client.callTool({ name: 'file.delete', arguments: { path: 'doomed.txt' }, _meta: meta })) as CallToolResult;
      expect(held.isError).toBeFalsy();
      const content = held.structuredContent as { status: string; invocation: string; approval: { id: string; reason: string } };
      expect(content.status).toBe('pending_approval');
      expect(content.approval.reason).toContain('coding-delete-with-approval');
      // The approval is real: the operator's store has it, for exactly this call.
      expect(server.runtime.approvals.get(content.approval.id)?.invocation).toMatchObject({ invocation: content.invocation, tool: 'file.delete', agent: 'coder', sandbox });
      expect(text(held)).toContain(content.approval.id);
      expect(text(held)).toContain(`GET /v1/invocations/${content.invocation}`);
      expect(held._meta?.['cordon/invocation']).toMatchObject({ id: content.invocation, status: 'pending_approval', approval: { id: content.approval.id } });
    } finally {
      await client.close();
    }
  });

  it('an agent with no grants is shown no tools, and its call is still decided (denied) in full', async () => {
    const { client } = await connectAs(idle, { modern });
    try {
      expect((await client.listTools()).tools).toEqual([]);
      if (!modern) {
        // A 2025-era client sends no Mcp-Name header: the call reaches the pipeline and is denied there.
        const result = (await client.callTool({ name: 'code', arguments: { language: 'javascript', source: '1' } })) as CallToolResult;
        expect(result.isError).toBe(true);
        expect(result.structuredContent).toMatchObject({ error: { code: 'POLICY_DENIED' } });
      }
    } finally {
      await client.close();
    }
  });
});

describe('unknown tools', () => {
  it('a 2025-era call of an unknown tool is an error result naming it', async () => {
    const { client } = await connectAs(coder);
    try {
      const result = (await client.callTool({ name: 'no.such-tool', arguments: {} })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('no.such-tool');
      expect(result.structuredContent).toMatchObject({ error: { code: 'TOOL_NOT_FOUND' } });
    } finally {
      await client.close();
    }
  });
});

describe('authentication: Cordon is an OAuth 2.1 resource server (MCP authorization, RFC 9728)', () => {
  const expectChallenge = (res: { status: number; headers: Record<string, string | string[] | undefined>; json: Json }, code: string) => {
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain(`Bearer resource_metadata="${metadataUrl()}"`);
    expect(res.json).toMatchObject({ error: { code, requestId: res.headers['x-request-id'] } });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  };

  it('without a token: 401 whose WWW-Authenticate points at the protected resource metadata (no error code)', async () => {
    const res = await post(listBody, jsonHeaders(null));
    expectChallenge(res, 'AUTH_MISSING_TOKEN');
    expect(res.headers['www-authenticate']).not.toContain('error=');
  });

  it('with a token for another audience: 401 invalid_token (the verifier checks aud)', async () => {
    const res = await post(listBody, { 'content-type': 'application/json', authorization: `Bearer ${token(coder, 'https://other-service.test/mcp')}` });
    expectChallenge(res, 'AUTH_INVALID_TOKEN');
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(res.json.error.details.reason).toMatch(/aud/);
  });

  it('with an expired token, or one signed by a key Cordon does not know: 401 invalid_token', async () => {
    const expired = ed25519Token(coder.privateKey, { ...claimsFor(coder.id), iat: nowSec() - 600, exp: nowSec() - 300 });
    expectChallenge(await post(listBody, { 'content-type': 'application/json', authorization: `Bearer ${expired}` }), 'AUTH_INVALID_TOKEN');
    const forged = ed25519Token(stranger.privateKey, claimsFor(coder.id));
    expectChallenge(await post(listBody, { 'content-type': 'application/json', authorization: `Bearer ${forged}` }), 'AUTH_INVALID_TOKEN');
  });

  it('the official client without a token fails to connect (the 401 reaches it)', async () => {
    const client = new Client({ name: 'cordon-test', version: '1.0.0' });
    await expect(client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl())))).rejects.toThrow(/AUTH_MISSING_TOKEN/);
  });

  it('serves RFC 9728 protected resource metadata naming /mcp and Cordon as the authorization server', async () => {
    const res = await request(metadataUrl());
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ resource: mcpUrl(), authorization_servers: [server.url], bearer_methods_supported: ['header'], resource_name: 'Cordon' });
  });

  it('serves RFC 8414 metadata for its token endpoint, and a token obtained there (private_key_jwt) opens /mcp', async () => {
    const res = await request(`${server.url}/.well-known/oauth-authorization-server`);
    const meta = (await res.body.json()) as Json;
    expect(meta).toMatchObject({ issuer: server.url, token_endpoint: `${server.url}/v1/token`, grant_types_supported: expect.arrayContaining(['client_credentials']), token_endpoint_auth_methods_supported: ['private_key_jwt'] });
    // The flow a client follows from the 401: metadata → token endpoint → bearer token on /mcp.
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertionToken(coder.privateKey, coder.id, {}, meta.token_endpoint as string) });
    const issued = await request(meta.token_endpoint as string, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(issued.statusCode).toBe(200);
    const { access_token } = (await issued.body.json()) as { access_token: string };
    const listed = await post(listBody, { 'content-type': 'application/json', authorization: `Bearer ${access_token}` });
    expect(listed.status).toBe(200);
    expect((listed.json.result.tools as Json[]).map((t) => t.name)).toContain('code');
  });

  it('the metadata never names the Host a client claims: it is the listener address (or server.publicUrl)', async () => {
    const res = await request(metadataUrl(), { headers: { host: 'attacker.test' } });
    expect(((await res.body.json()) as Json).resource).toBe(mcpUrl());
    const spoofed = await post(listBody, { 'content-type': 'application/json', host: 'attacker.test' });
    expect(spoofed.headers['www-authenticate']).toContain(metadataUrl());
  });

  it('with server.publicUrl set, the metadata and the 401 name that URL', async () => {
    const app = createRunnerApi({ runner: server.runtime.runner, tokens: server.runtime.tokens, logger: silentLogger, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 10_000, maxWaitMs: 1000, unreadBody: { maxBytes: 1024, maxMs: 100 }, publicUrl: 'https://cordon.example.test/' });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const meta = (await (await request(`${url}/.well-known/oauth-protected-resource/mcp`)).body.json()) as Json;
      expect(meta).toMatchObject({ resource: 'https://cordon.example.test/mcp', authorization_servers: ['https://cordon.example.test'] });
      const res = await request(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: listBody });
      await res.body.text();
      expect(res.headers['www-authenticate']).toBe('Bearer resource_metadata="https://cordon.example.test/.well-known/oauth-protected-resource/mcp"');
    } finally {
      await app.close();
    }
  });
});

/** Sends the head and only part of a declared body, and reads the answer without ever finishing it. */
async function partialBody(head: string, partial: string): Promise<{ status: number; json: Json }> {
  const { hostname, port } = new URL(server.url);
  const socket = connect({ host: hostname, port: Number(port) });
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(head + partial);
    const text = await new Promise<string>((resolve, reject) => {
      let got = '';
      socket.on('data', (c: Buffer) => {
        got += c.toString('utf8');
        const end = got.indexOf('\r\n\r\n');
        const length = /\r\ncontent-length: *(\d+)/i.exec(got)?.[1];
        if (end !== -1 && length !== undefined && got.length >= end + 4 + Number(length)) resolve(got);
      });
      socket.once('error', reject);
      socket.once('close', () => resolve(got));
    });
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), json: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Json };
  } finally {
    socket.destroy();
  }
}

describe('Mcp-Method / Mcp-Name headers', () => {
  const head = (headers: Record<string, string | number>) => `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

  it('a tools/call of a tool the caller could never be allowed is refused (403) before its body is read', async () => {
    // 40 KiB declared, a few bytes sent: an answer can only come from the headers.
    const res = await partialBody(head({ ...jsonHeaders(coder), 'content-length': 40_000, 'mcp-method': 'tools/call', 'mcp-name': 'browse.page' }), '{"jsonrpc":"2.0",');
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: { code: 'POLICY_DENIED', details: { tool: 'browse.page', principal: { agent: coder.id, user: null } } } });
    // Like every refusal, it names the command that shows why (the input is not known yet).
    expect(res.json.error.message).toContain(`To see why: cordon policy explain --agent ${coder.id} --tool browse.page --input '<the call's input as JSON>'`);
    // Nothing was decided nor run, so no invocation record names it.
    expect(invocations().some((r) => r.tool === 'browse.page')).toBe(false);
  });

  it('an agent without grants is refused before the body for any tool; an allowed tool goes on to read it', async () => {
    const refused = await partialBody(head({ ...jsonHeaders(idle), 'content-length': 40_000, 'mcp-method': 'tools/call', 'mcp-name': 'code' }), '{');
    expect(refused).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    const allowed = await post(callBody('code', { language: 'javascript', source: '1 + 1' }), { ...jsonHeaders(coder), 'mcp-method': 'tools/call', 'mcp-name': 'code' });
    expect(allowed.status).toBe(200);
    expect(allowed.json.result.structuredContent).toMatchObject({ status: 'ok', value: 2 });
    // Cordon's own headers ride on MCP answers too.
    expect(allowed.headers['x-request-id']).toMatch(/^req_/);
    expect(allowed.headers['cache-control']).toBe('no-store');
    expect(allowed.headers['x-content-type-options']).toBe('nosniff');
  });

  it('a base64-encoded Mcp-Name is decoded before it is checked; a bad encoding is 400', async () => {
    const encoded = `=?base64?${Buffer.from('browse.page').toString('base64')}?=`;
    expect((await post(callBody('browse.page', {}), { ...jsonHeaders(coder), 'mcp-method': 'tools/call', 'mcp-name': encoded })).status).toBe(403);
    // "QR" is not canonical base64 (its last bits are not zero): refused, never guessed at.
    const bad = await post(callBody('code', {}), { ...jsonHeaders(coder), 'mcp-method': 'tools/call', 'mcp-name': '=?base64?QR?=' });
    expect(bad).toMatchObject({ status: 400, json: { error: { code: 'REQUEST_MALFORMED', details: { header: 'Mcp-Name' } } } });
  });

  it('a 2025-era body that disagrees with the headers is refused (400 in Cordon\'s shape), never run', async () => {
    const before = invocations().length;
    const method = await post(callBody('code', { language: 'javascript', source: '1' }), { ...jsonHeaders(coder), 'mcp-method': 'tools/list' });
    expect(method).toMatchObject({ status: 400, json: { error: { code: 'REQUEST_MALFORMED', details: { header: 'Mcp-Method' } } } });
    const name = await post(callBody('browse.fetch', { url: 'https://untrusted.test/' }), { ...jsonHeaders(coder), 'mcp-method': 'tools/call', 'mcp-name': 'code' });
    expect(name).toMatchObject({ status: 400, json: { error: { code: 'REQUEST_MALFORMED', details: { header: 'Mcp-Name' } } } });
    expect(invocations().length).toBe(before);
  });

  it('a 2026-07-28 body that disagrees with its Mcp-Name header is refused by the SDK (HTTP 400, -32020), never run', async () => {
    const before = invocations().length;
    // The client names an allowed tool in the header while its body calls another.
    const { client, sent } = await connectAs(coder, {
      modern: true,
      rewrite: (headers) => {
        if (headers.get('mcp-method') === 'tools/call') headers.set('mcp-name', 'file.read');
      },
    });
    try {
      await expect(client.callTool({ name: 'code', arguments: { language: 'javascript', source: '1' } })).rejects.toThrow(/Mcp-Name/);
      expect(sent.some((s) => s.headers.get('mcp-name') === 'file.read')).toBe(true);
      expect(invocations().length).toBe(before);
    } finally {
      await client.close();
    }
  });
});

describe('hostile requests get a clear refusal in Cordon\'s shape and change nothing', () => {
  it('malformed JSON: 400 REQUEST_MALFORMED', async () => {
    const res = await post('{"jsonrpc": "2.0", "method": ', jsonHeaders(coder));
    expect(res).toMatchObject({ status: 400, json: { error: { code: 'REQUEST_MALFORMED' } } });
  });

  it('a JSON-RPC batch: 400, one message per request', async () => {
    const res = await post(`[${listBody},${callBody('code', { language: 'javascript', source: '1' })}]`, jsonHeaders(coder));
    expect(res).toMatchObject({ status: 400, json: { error: { code: 'REQUEST_MALFORMED', message: expect.stringContaining('batch') } } });
  });

  it('JSON that is not a JSON-RPC message: a JSON-RPC error from the SDK, not a crash', async () => {
    for (const body of ['{}', '"tools/list"', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":42}}']) {
      const res = await post(body, jsonHeaders(coder));
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(500);
    }
    expect((await request(`${server.url}/healthz`)).statusCode).toBe(200);
  });

  it('an oversized body: 413 REQUEST_TOO_LARGE under the runner\'s body limit', async () => {
    const res = await post(callBody('code', { language: 'javascript', source: 'x'.repeat(100 * 1024) }), jsonHeaders(coder));
    expect(res).toMatchObject({ status: 413, json: { error: { code: 'REQUEST_TOO_LARGE' } } });
  });

  it('a wrong content type: 415', async () => {
    const res = await post(listBody, { authorization: `Bearer ${token(coder)}`, 'content-type': 'text/plain' });
    expect(res).toMatchObject({ status: 415, json: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
  });

  it('GET and DELETE (2025 session operations) are 405 with Allow: POST', async () => {
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await request(mcpUrl(), { method, headers: { authorization: `Bearer ${token(coder)}` } });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(((await res.body.json()) as Json).error.code).toBe('METHOD_NOT_ALLOWED');
    }
  });

  it('200 concurrent calls from one agent: each is answered with a result (quota refusals included), and the server keeps serving', async () => {
    const { client } = await connectAs(coder);
    try {
      const results = (await Promise.all(Array.from({ length: 200 }, (_, i) => client.callTool({ name: 'code', arguments: { language: 'javascript', source: `${i} * 2` } })))) as CallToolResult[];
      const codes = new Set<string>();
      for (const [i, r] of results.entries()) {
        if (r.isError === true) codes.add((r.structuredContent as { error: { code: string } }).error.code);
        else expect(r.structuredContent).toMatchObject({ status: 'ok', value: i * 2 });
      }
      // Whatever was refused was refused by a quota, never by a crash.
      for (const code of codes) expect(['RATE_LIMITED', 'SANDBOX_BUSY', 'QUOTA_EXCEEDED']).toContain(code);
      expect(results.filter((r) => r.isError !== true).length).toBeGreaterThan(0);
      const after = (await client.callTool({ name: 'code', arguments: { language: 'javascript', source: '"still here"' } })) as CallToolResult;
      expect(after.isError === true ? (after.structuredContent as Json).error.code : (after.structuredContent as Json).value).toMatch(/still here|RATE_LIMITED/);
    } finally {
      await client.close();
    }
  });
});
