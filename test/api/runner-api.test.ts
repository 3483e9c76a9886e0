import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsFor, ed25519Token, nowSec, unsignedToken } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// Over a real loopback socket: status codes, headers and bodies as a client sees them.
let env: TestEnv;
let server: TestServer;
const coder = makeTestAgent('coder', ['coding']);
const reader = makeTestAgent('reader', ['research']);

beforeAll(async () => {
  // Every refusal written at once (no counting window), so each test sees its own records;
  // counted repeats are tested in audit-volume.test.ts.
  env = makeTestEnv([coder, reader], { audit: { repeatWindowMs: 0, repeatMaxKeys: 1 } });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const tokenFor = (agent = coder, extra: Record<string, unknown> = {}) => ed25519Token(agent.privateKey, { ...claimsFor(agent.id), ...extra });

async function call(method: string, path: string, options: { token?: string | null; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
  const token = options.token === undefined ? tokenFor() : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await request(`${server.url}${path}`, { method: method as 'GET', headers, ...(options.body === undefined ? {} : { body: options.body }) });
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // left null: asserted by the caller where it matters
  }
  return { status: res.statusCode, headers: res.headers, json: json as { error?: { code: string; message: string; details: Record<string, unknown>; requestId: string } } & Record<string, unknown> };
}

const invoke = (input: unknown, token?: string | null) => call('POST', '/v1/invocations', { body: JSON.stringify({ tool: 'code', input }), token });

describe('the code tool, for code that models write', () => {
  it('accepts the js alias on the API, as on the CLI', async () => {
    expect((await invoke({ language: 'js', source: '1+1' })).json).toMatchObject({ status: 'ok', output: { value: 2 } });
  });

  it.each([
    ['an awaited expression', 'await Promise.resolve(41) + 1', 42],
    ['declarations with await', 'const a = await Promise.resolve(20);\nlet b = await 22;\na + b', 42],
    ['Promise.all', 'const r = await Promise.all([1, 2, 3].map(async (x) => x * 2));\nr', [2, 4, 6]],
    ['a for await loop', 'let t = 0;\nfor await (const x of [Promise.resolve(1), 2]) t += x;\nt', 3],
    ['await as the last line after a comment', '// sum\nawait 5 // five', 5],
  ])('top-level await: %s', async (_name, source, value) => {
    const res = await invoke({ language: 'javascript', source });
    expect(res.json).toMatchObject({ status: 'ok', output: { status: 'ok', value } });
  });

  it.each([
    ['a syntax error', 'let x = 1;\nlet y = ;', { name: 'SyntaxError', line: 2 }],
    ['a syntax error in code with await', 'await 1;\n\nconst = 2', { name: 'SyntaxError', line: 3 }],
    ['a runtime error', '1;\n2;\n  null.boom', { name: 'TypeError', line: 3, column: 8 }],
    ['a runtime error after await', 'await null;\nundefinedThing()', { name: 'ReferenceError', line: 2 }],
    ['an async rejection', '(async () => { await null;\n  throw new RangeError("late") })()', { name: 'RangeError', message: 'late', line: 2 }],
  ])('%s carries its line (and column)', async (_name, source, error) => {
    const res = await invoke({ language: 'javascript', source });
    expect(res.json).toMatchObject({ status: 'error', output: { status: 'error', error } });
  });

  it('says why fetch is not defined in a sandbox without egress', async () => {
    const res = await invoke({ language: 'javascript', source: 'await fetch("https://example.test/")' });
    expect((res.json.output as { error: { message: string } }).error.message).toMatch(/no egress policy/);
  });

  it('an unknown language lists the languages the profile offers', async () => {
    const res = await invoke({ language: 'python', source: '1' });
    expect(res.status).toBe(400);
    expect(res.json.error?.message).toMatch(/not offered by sandbox profile "js"; it offers: javascript/);
  });
});

describe('runner API', () => {
  it('GET /healthz answers without a token', async () => {
    const res = await call('GET', '/healthz', { token: null });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'ok', ready: true, version: JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string, policySet: expect.stringMatching(/^sha256:[0-9a-f]{32}$/) as string });
  });

  it('GET /v1/tools lists the code tool with its schema and annotations', async () => {
    const res = await call('GET', '/v1/tools');
    expect(res.status).toBe(200);
    const tools = res.json.tools as { name: string; inputSchema: { required: string[] }; annotations: Record<string, unknown> }[];
    const code = tools.find((t) => t.name === 'code');
    expect(code?.inputSchema.required).toEqual(['language', 'source']);
    expect(code?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
  });

  it('POST /v1/invocations runs 1+1 and answers 2', async () => {
    const res = await invoke({ language: 'javascript', source: '1+1' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ tool: 'code', status: 'ok', output: { status: 'ok', value: 2, stdout: '', stderr: '', truncated: false } });
    expect(res.json.id).toMatch(/^inv_/);
    expect(typeof res.json.durationMs).toBe('number');
    expect(res.headers['x-request-id']).toMatch(/^req_/);
  });

  it('answers 200 with a failed status when the tool code fails, and keeps serving', async () => {
    for (const [source, status] of [
      ['while(true){}', 'timeout'],
      ['const a=[]; for(;;) a.push(new Array(1e6).fill(1))', 'oom'],
      ["require('fs')", 'error'],
      ['process.exit()', 'error'],
      ["this.constructor.constructor('return process')()", 'error'],
    ] as const) {
      const res = await invoke({ language: 'javascript', source, timeoutMs: 300, memoryMb: 16 });
      expect(res.status, source).toBe(200);
      expect(res.json.status, source).toBe(status);
    }
    expect((await invoke({ language: 'javascript', source: '6*7' })).json).toMatchObject({ status: 'ok', output: { value: 42 } });
  });

  describe('authentication', () => {
    it('401 AUTH_MISSING_TOKEN without a token, with WWW-Authenticate', async () => {
      const res = await invoke({ language: 'javascript', source: '1' }, null);
      expect(res.status).toBe(401);
      expect(res.json.error?.code).toBe('AUTH_MISSING_TOKEN');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it('401 for a non-Bearer scheme', async () => {
      const res = await call('POST', '/v1/invocations', { token: null, headers: { authorization: 'Basic Y29kZXI6eA==' }, body: '{}' });
      expect(res.status).toBe(401);
      expect(res.json.error).toMatchObject({ code: 'AUTH_INVALID_TOKEN', details: { reason: 'malformed' } });
    });

    const now = nowSec();
    const mallory = makeTestAgent('mallory');
    it.each([
      ['unknown agent', () => ed25519Token(mallory.privateKey, claimsFor('mallory')), 'unknown_agent'],
      ['bad signature', () => ed25519Token(mallory.privateKey, claimsFor('coder')), 'bad_signature'],
      ['alg none', () => unsignedToken(claimsFor('coder')), 'algorithm_not_allowed'],
      ['other algorithm', () => ed25519Token(coder.privateKey, claimsFor('coder'), { alg: 'ES256' }), 'algorithm_not_allowed'],
      ['wrong audience', () => tokenFor(coder, { aud: 'elsewhere' }), 'wrong_audience'],
      ['expired', () => tokenFor(coder, { iat: now - 400, exp: now - 100 }), 'expired'],
      ['not yet valid', () => tokenFor(coder, { nbf: now + 3600 }), 'not_yet_valid'],
      ['lifetime over the maximum', () => tokenFor(coder, { iat: now, exp: now + 3600 }), 'lifetime_too_long'],
    ])('401 AUTH_INVALID_TOKEN: %s', async (_name, make, reason) => {
      const res = await invoke({ language: 'javascript', source: '1' }, make());
      expect(res.status).toBe(401);
      expect(res.json.error).toMatchObject({ code: 'AUTH_INVALID_TOKEN', details: { reason } });
      expect(res.json.error?.requestId).toBe(res.headers['x-request-id']);
    });

    it('refuses an anonymous oversized body with 401 before reading it', async () => {
      const res = await call('POST', '/v1/invocations', { token: null, body: JSON.stringify({ tool: 'code', input: { source: 'x'.repeat(2 * 1024 * 1024) } }) });
      expect(res.status).toBe(401);
    });
  });

  describe('bad input', () => {
    it('413 REQUEST_TOO_LARGE for a body over 1 MiB', async () => {
      const res = await call('POST', '/v1/invocations', { body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source: 'x'.repeat(1024 * 1024) } }) });
      expect(res.status).toBe(413);
      expect(res.json.error?.code).toBe('REQUEST_TOO_LARGE');
    });

    it.each([
      ['truncated JSON', '{"tool":"code",'],
      ['not JSON at all', 'tool=code'],
      ['empty body', ''],
      ['prototype poisoning', '{"tool":"code","input":{"__proto__":{"polluted":1}}}'],
      ['constructor poisoning', '{"tool":"code","input":{"constructor":{"prototype":{"polluted":1}}}}'],
    ])('400 REQUEST_MALFORMED for %s', async (_name, body) => {
      const res = await call('POST', '/v1/invocations', { body });
      expect(res.status).toBe(400);
      expect(res.json.error?.code).toBe('REQUEST_MALFORMED');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('415 for a body that is not JSON', async () => {
      const res = await call('POST', '/v1/invocations', { body: '{"tool":"code"}', headers: { 'content-type': 'text/plain' } });
      expect(res.status).toBe(415);
      expect(res.json.error?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });

    it.each([
      ['a body that is an array', '[]', '/'],
      ['no tool', '{"input":{}}', '/tool'],
      ['a numeric tool', '{"tool":5,"input":{}}', '/tool'],
      ['no input', '{"tool":"code"}', '/input'],
      ['an unknown body field', '{"tool":"code","input":{},"admin":true}', '/admin'],
      ['no language', '{"tool":"code","input":{"source":"1"}}', '/language'],
      ['an unknown language', '{"tool":"code","input":{"language":"cobol","source":"1"}}', '/language'],
      ['a numeric source', '{"tool":"code","input":{"language":"javascript","source":1}}', '/source'],
      ['an unknown input field', '{"tool":"code","input":{"language":"javascript","source":"1","sudo":true}}', '/sudo'],
      ['a fractional timeout', '{"tool":"code","input":{"language":"javascript","source":"1","timeoutMs":1.5}}', '/timeoutMs'],
      ['a negative timeout', '{"tool":"code","input":{"language":"javascript","source":"1","timeoutMs":-1}}', '/timeoutMs'],
      ['a timeout over the maximum', '{"tool":"code","input":{"language":"javascript","source":"1","timeoutMs":600001}}', '/timeoutMs'],
      ['memory over the maximum', '{"tool":"code","input":{"language":"javascript","source":"1","memoryMb":100000}}', '/memoryMb'],
      ['memory under 8 MB', '{"tool":"code","input":{"language":"javascript","source":"1","memoryMb":1}}', '/memoryMb'],
      ['input that is a string', '{"tool":"code","input":"1+1"}', '/'],
    ])('400 INPUT_INVALID naming the field for %s', async (_name, body, field) => {
      const before = server.audit.records.filter((r) => r.outcome === 'ok').length;
      const res = await call('POST', '/v1/invocations', { body });
      expect(res.status).toBe(400);
      expect(res.json.error?.code).toBe('INPUT_INVALID');
      expect(String(res.json.error?.details.field)).toContain(field);
      expect(res.json.error?.message).toContain(field === '/' ? '' : field.slice(1));
      // Nothing ran.
      expect(server.audit.records.filter((r) => r.outcome === 'ok').length).toBe(before);
    });

    it('400 INPUT_INVALID for input nested too deep (regression: a stack overflow answered 500)', async () => {
      for (const depth of [100, 200_000]) {
        const body = `{"tool":"code","input":{"language":"javascript","source":"1","x":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
        const res = await call('POST', '/v1/invocations', { body });
        expect(res.status, String(depth)).toBe(400);
        expect(res.json.error).toMatchObject({ code: 'INPUT_INVALID', details: { field: '/input' } });
      }
      expect((await invoke({ language: 'javascript', source: '1' })).status).toBe(200);
    });

    it('404 TOOL_NOT_FOUND for an unknown tool', async () => {
      const res = await call('POST', '/v1/invocations', { body: '{"tool":"rm-rf","input":{}}' });
      expect(res.status).toBe(404);
      expect(res.json.error?.code).toBe('TOOL_NOT_FOUND');
    });

    it('400 REQUEST_MALFORMED in Cordon\'s shape for a path segment over the limit or bad percent-encoding, never echoing the path', async () => {
      const long = 'x'.repeat(5000);
      for (const path of [`/v1/invocations/${long}`, `/v1/sandboxes/${long}`, '/v1/invocations/%E0%A4%A']) {
        const res = await call('GET', path);
        expect([path.slice(0, 40), res.status, res.json.error?.code]).toEqual([path.slice(0, 40), 400, 'REQUEST_MALFORMED']);
        expect(JSON.stringify(res.json)).not.toContain('xxxxxxxxxx');
        expect(res.json.error?.requestId).toMatch(/^req_/);
      }
    });

    it('404 NOT_FOUND for an unknown route', async () => {
      const res = await call('GET', '/v1/nothing');
      expect(res.status).toBe(404);
      expect(res.json.error?.code).toBe('NOT_FOUND');
    });

    it.each([
      ['DELETE', '/v1/invocations', 'POST'],
      ['GET', '/v1/invocations', 'POST'],
      ['PUT', '/v1/invocations', 'POST'],
      ['POST', '/v1/tools', 'GET, HEAD'],
      ['POST', '/healthz', 'GET, HEAD'],
    ])('405 METHOD_NOT_ALLOWED for %s %s with Allow', async (method, path, allow) => {
      const res = await call(method, path, { token: null });
      expect(res.status).toBe(405);
      expect(res.json.error?.code).toBe('METHOD_NOT_ALLOWED');
      expect(res.headers.allow).toBe(allow);
    });
  });

  describe('authorization (interim tool list)', () => {
    it('403 POLICY_DENIED for an agent without the tool, naming why, and nothing runs', async () => {
      const res = await invoke({ language: 'javascript', source: '1' }, tokenFor(reader));
      expect(res.status).toBe(403);
      expect(res.json.error?.code).toBe('POLICY_DENIED');
      expect(res.json.error?.message).toContain('no permit matched');
      expect(res.json.error?.details).toMatchObject({ decision: { agent: { principal: 'Agent::"reader"' }, policyIds: [] } });
      expect(res.json.error?.details).toMatchObject({ decision: { result: 'deny' } });
    });
  });

  describe('audit', () => {
    it('writes one record per call with agent, tool, decision, outcome, jti and input hash', async () => {
      const claims = claimsFor('coder');
      const input = { language: 'javascript', source: '"audited"' };
      await invoke(input, ed25519Token(coder.privateKey, claims));
      // Two records: `started` (on disk before the sandbox ran), then the result; one invocation id.
      const [started, rec] = server.audit.records.filter((r) => r.tokenId === claims.jti);
      expect(started).toMatchObject({ kind: 'invocation', outcome: 'started', invocation: rec?.invocation, inputSha256: rec?.inputSha256 });
      expect(rec).toMatchObject({ kind: 'invocation', agent: 'coder', user: null, tool: 'code', action: 'code.exec', resource: 'language:javascript', outcome: 'ok', decision: { result: 'allow' } });
      const { createHash } = await import('node:crypto');
      expect(rec?.inputSha256).toBe(createHash('sha256').update(JSON.stringify(input)).digest('hex'));
      expect(rec?.sandbox).toMatch(/^sbx_/);
    });

    it('keeps the decision once: result, reason and rule beside the policy ids, not repeated in a nested copy', async () => {
      const claims = claimsFor('coder');
      await invoke({ language: 'javascript', source: '"once"' }, ed25519Token(coder.privateKey, claims));
      const decision = server.audit.records.find((r) => r.tokenId === claims.jti)?.decision;
      expect(decision).toMatchObject({ result: 'allow', ruleId: expect.any(String), policyIds: [decision?.ruleId], policyVersion: expect.stringMatching(/^sha256:/) });
      expect(decision).not.toHaveProperty('details');
      expect(JSON.stringify(decision).match(/"result"/g)?.length).toBe(1 + ['agent', 'user'].filter((p) => decision?.[p] != null).length);
    });

    it('records denials and failed authentication too', async () => {
      const claims = claimsFor('reader');
      await invoke({ language: 'javascript', source: '1' }, ed25519Token(reader.privateKey, claims));
      expect(server.audit.records.find((r) => r.tokenId === claims.jti)).toMatchObject({ outcome: 'POLICY_DENIED', decision: { result: 'deny' } });
      const before = server.audit.records.length;
      await invoke({ language: 'javascript', source: '1' }, 'not-a-token');
      expect(server.audit.records.slice(before)).toEqual([expect.objectContaining({ kind: 'auth', outcome: 'AUTH_INVALID_TOKEN:malformed' })]);
    });
  });
});
