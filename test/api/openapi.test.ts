import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunnerApi } from '../../src/api/runner-api.ts';
import { buildOpenApiDocument } from '../../src/api/openapi/openapi-document.ts';
import { routeCatalogOf, type CatalogRoute } from '../../src/api/openapi/route-catalog.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { CORDON_VERSION } from '../../src/core/version.ts';
import { makeTestApprover } from '../support/approvers.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

let env: TestEnv;
let server: TestServer;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document is JSON, walked by path
let doc: any;
const coder = makeTestAgent('coder', ['coding']);
const alice = makeTestApprover('alice');

beforeAll(async () => {
  // Approvers configured, so the shipped policies hold a delete for approval (202).
  env = makeTestEnv([coder], { approvals: { approvers: [{ name: alice.name, publicKey: alice.publicKeyPem, tools: ['file.*'] }] } });
  server = await startTestServer(env.config);
  const res = await request(`${server.url}/openapi.json`);
  expect(res.statusCode).toBe(200);
  doc = await res.body.json();
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const bearer = () => ({ authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}` });

async function call(method: string, path: string, body?: string, headers: Record<string, string> = bearer()) {
  const res = await request(`${server.url}${path}`, { method: method as 'GET', headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
  return { status: res.statusCode, json: (text === '' ? null : JSON.parse(text)) as any };
}

/** A client's view: the served document as one schema resource, its parts compiled by JSON pointer. */
function documentValidator() {
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
  ajv.addSchema(doc, 'openapi.json');
  return (pointer: string) => {
    const check = ajv.getSchema(`openapi.json#${pointer}`);
    if (check === undefined) throw new Error(`no schema at ${pointer}`);
    return check;
  };
}
const esc = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');
const bodySchema = (path: string, method: string) => `/paths/${esc(path)}/${method}/requestBody/content/application~1json/schema`;
const responseSchema = (path: string, method: string, status: number) => `/paths/${esc(path)}/${method}/responses/${status}/content/application~1json/schema`;

/** The field a JSON Schema failure names, as a JSON pointer (what INPUT_INVALID's details.field says). */
function failedField(err: ErrorObject | undefined): string {
  if (err === undefined) return '';
  const at = err.instancePath;
  if (err.keyword === 'additionalProperties') return `${at}/${(err.params as { additionalProperty: string }).additionalProperty.slice(0, 64)}`;
  if (err.keyword === 'required') return `${at}/${(err.params as { missingProperty: string }).missingProperty}`;
  return at === '' ? '/' : at;
}

describe('GET /openapi.json', () => {
  it('is served without a token and validates as OpenAPI 3.1, versioned as Cordon', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(CORDON_VERSION);
  });

  it('can fail: the validator refuses a document with a broken operation', async () => {
    const broken = structuredClone(doc);
    broken.paths['/v1/tools'].get.responses = 'none';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('lists every route the server has, with its methods, and nothing it lacks', () => {
    const routes = routeCatalogOf(server.app)?.routes() ?? [];
    const built = buildOpenApiDocument(routes, CORDON_VERSION);
    // Neither documented nor excluded: the way to fix this is a `config.openapi` on the route (see docs/openapi.md).
    expect(built.undocumented).toEqual([]);
    const served = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const documented = routes.filter((r) => r.openapi !== undefined && !('exclude' in r.openapi) && r.method !== 'HEAD').map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(served.sort()).toEqual([...new Set(documented)].sort());
    expect(served).toEqual(expect.arrayContaining(['GET /healthz', 'GET /v1/tools', 'POST /v1/invocations', 'GET /v1/invocations/{id}', 'GET /v1/invocations/{id}/receipt', 'POST /v1/sandboxes', 'GET /v1/sandboxes', 'DELETE /v1/sandboxes/{id}', 'POST /v1/token', 'GET /openapi.json']));
    // Every documented path answers its method (not 404/405) on the server itself.
    for (const r of routes.filter((x) => x.openapi !== undefined && !('exclude' in x.openapi))) expect(server.app.hasRoute({ method: r.method as 'GET', url: r.url }), `${r.method} ${r.url}`).toBe(true);
  });

  it('names a route that is neither documented nor excluded, and leaves an excluded one out', async () => {
    const app = createRunnerApi({ runner: server.runtime.runner, logger: silentLogger, bodyLimitBytes: 1024, requestTimeoutMs: 1000, maxWaitMs: 10, unreadBody: { maxBytes: 1024, maxMs: 100 } });
    app.get('/forgotten', async () => 'x');
    app.get('/metrics', { config: { openapi: { exclude: 'Prometheus text, not JSON' } } }, async () => 'x');
    await app.ready();
    try {
      const routes = routeCatalogOf(app)?.routes() ?? [];
      const built = buildOpenApiDocument(routes, CORDON_VERSION);
      expect(built.undocumented).toEqual(['GET /forgotten', 'HEAD /forgotten']);
      const paths = Object.keys((built.document as { paths: Record<string, unknown> }).paths);
      expect(paths).not.toContain('/metrics');
      expect(paths).not.toContain('/forgotten');
      // Without a token endpoint, the document does not list one either.
      expect(paths).not.toContain('/v1/token');
    } finally {
      await app.close();
    }
  });

  it('puts the bearer scheme on every route but /healthz, /openapi.json and the token endpoint', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { security: unknown[] }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const open = ['/healthz', '/openapi.json', '/v1/token'].includes(path);
        expect([path, method, op.security]).toEqual([path, method, open ? [] : [{ bearer: [] }]]);
        if (!open) expect(Object.keys(op as object)).toContain('responses');
        if (!open) expect((op as unknown as { responses: Record<string, unknown> }).responses['401']).toBeDefined();
      }
    }
  });

  it('gives each route the error statuses its codes map to', () => {
    expect(Object.keys(doc.paths['/v1/invocations'].post.responses).sort()).toEqual(['200', '202', '400', '401', '403', '404', '409', '413', '415', '422', '429', '500', '502', '503', '504']);
    expect(Object.keys(doc.paths['/v1/invocations/{id}'].get.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404', '410']));
    expect(doc.paths['/v1/sandboxes/{id}'].delete.responses['404'].content['application/json'].schema.allOf[1].properties.error.properties.code.enum).toEqual(['SANDBOX_NOT_FOUND']);
    expect(doc.paths['/v1/token'].post.requestBody.content).toHaveProperty('application/x-www-form-urlencoded');
  });
});

describe('the server parses with the schemas the document shows', () => {
  const long = 'x'.repeat(100_000);
  const code = { language: 'javascript', source: '1+1' };
  it.each([
    ['a good call', { tool: 'code', input: code }],
    ['a good call with a session', { tool: 'code', input: code, session: 'task-7:a.b' }],
    ['an array', []],
    ['a string', 'code'],
    ['null', null],
    ['no tool', { input: code }],
    ['a numeric tool', { tool: 5, input: code }],
    ['an empty tool name', { tool: '', input: code }],
    ['a 100 kB tool name', { tool: long, input: code }],
    ['no input', { tool: 'code' }],
    ['an unknown field', { tool: 'code', input: code, admin: true }],
    ['a constructor field', { tool: 'code', input: code, constructor: 1 }],
    ['an unknown field with a 100 kB name', { tool: 'code', input: code, [long]: 1 }],
    ['a session with a slash', { tool: 'code', input: code, session: 'a/b' }],
    ['a 100 kB session', { tool: 'code', input: code, session: long }],
    ['a sandbox that is not an id', { tool: 'code', input: code, sandbox: 'box1' }],
    ['an upper-case profile', { tool: 'code', input: code, profile: 'JS' }],
    ['a numeric profile', { tool: 'code', input: code, profile: 7 }],
  ])('POST /v1/invocations: %s is accepted or refused by both, naming the same field', async (_name, body) => {
    const check = documentValidator()(bodySchema('/v1/invocations', 'post'));
    const documentAccepts = check(body) as boolean;
    const res = await call('POST', '/v1/invocations', JSON.stringify(body));
    if (documentAccepts) {
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ tool: 'code', status: 'ok' });
    } else {
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: 'INPUT_INVALID', details: { field: failedField(check.errors?.[0]) } });
      const field = res.json.error.details.field as string;
      expect(res.json.error.message).toContain(`body${field === '/' ? '' : field}`);
      expect(res.json.error.message.length).toBeLessThan(300);
    }
  });

  it.each([
    ['no fields', {}],
    ['a profile', { profile: 'js' }],
    ['an unknown field', { profile: 'js', image: 'x' }],
    ['a profile with a space', { profile: 'j s' }],
    ['an array', ['js']],
  ])('POST /v1/sandboxes: %s is accepted or refused by both', async (_name, body) => {
    const check = documentValidator()(bodySchema('/v1/sandboxes', 'post'));
    const documentAccepts = check(body) as boolean;
    const res = await call('POST', '/v1/sandboxes', JSON.stringify(body));
    if (documentAccepts) {
      expect(res.status).toBe(201);
      expect(documentValidator()(responseSchema('/v1/sandboxes', 'post', 201))(res.json)).toBe(true);
      expect((await call('DELETE', `/v1/sandboxes/${res.json.id}`)).status).toBe(204);
    } else {
      expect(res.json.error).toMatchObject({ code: 'INPUT_INVALID', details: { field: failedField(check.errors?.[0]) } });
    }
  });

  it('GET /v1/invocations/{id}: waitMs within the documented maximum passes the query check, above it or not digits is refused', async () => {
    const param = (doc.paths['/v1/invocations/{id}'].get.parameters as { name: string; in: string; schema: { maximum: number } }[]).find((p) => p.in === 'query' && p.name === 'waitMs');
    const max = param?.schema.maximum ?? 0;
    expect(max).toBe(env.config.approvals.maxWaitMs);
    const id = 'inv_0123456789abcdefghjkmnpqrs';
    // Accepted by the query check: the answer is then about the (unknown) invocation.
    for (const q of ['waitMs=0', `waitMs=${max}`]) expect((await call('GET', `/v1/invocations/${id}?${q}`)).json.error.code, q).toBe('INVOCATION_NOT_FOUND');
    for (const q of [`waitMs=${max + 1}`, 'waitMs=1e3', 'waitMs=-1', 'waitMs=', 'waitMs=1&waitMs=2', '__proto__=1', 'constructor=1', `${long.slice(0, 5000)}=1`]) {
      const res = await call('GET', `/v1/invocations/${id}?${q}`);
      expect([q.slice(0, 30), res.status, res.json.error.code]).toEqual([q.slice(0, 30), 400, 'INPUT_INVALID']);
      expect(String(res.json.error.details.field)).toMatch(/^query\//);
      expect(String(res.json.error.details.field).length).toBeLessThanOrEqual(70);
    }
  });

  it('refuses hostile bodies with typed 400s: poisoned keys, deep nesting, a huge string in the input', async () => {
    expect((await call('POST', '/v1/invocations', '{"tool":"code","input":{},"__proto__":{"x":1}}')).json.error.code).toBe('REQUEST_MALFORMED');
    const deep = await call('POST', '/v1/invocations', `{"tool":"code","input":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    expect(deep.json.error).toMatchObject({ code: 'INPUT_INVALID', details: { field: '/input' } });
    // The input itself is the tool's: its own schema names the field.
    const huge = await call('POST', '/v1/invocations', JSON.stringify({ tool: 'code', input: { language: long, source: '1' } }));
    expect(huge.json.error).toMatchObject({ code: 'INPUT_INVALID', details: { tool: 'code', field: '/language' } });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('answers in the shapes the document gives (healthz, tools, a result, refusals)', async () => {
    const schema = documentValidator();
    const pairs: [string, unknown][] = [
      [responseSchema('/healthz', 'get', 200), (await call('GET', '/healthz')).json],
      [responseSchema('/v1/tools', 'get', 200), (await call('GET', '/v1/tools')).json],
      [responseSchema('/v1/sandboxes', 'get', 200), (await call('GET', '/v1/sandboxes')).json],
      [responseSchema('/v1/invocations', 'post', 200), (await call('POST', '/v1/invocations', JSON.stringify({ tool: 'code', input: code }))).json],
      [responseSchema('/v1/invocations', 'post', 400), (await call('POST', '/v1/invocations', '{}')).json],
      [responseSchema('/v1/invocations', 'post', 401), (await call('POST', '/v1/invocations', '{}', {})).json],
      [responseSchema('/v1/invocations', 'post', 404), (await call('POST', '/v1/invocations', JSON.stringify({ tool: 'nope', input: {} }))).json],
      [responseSchema('/v1/sandboxes/{id}', 'delete', 404), (await call('DELETE', '/v1/sandboxes/sbx_nope')).json],
      [`/paths/${esc('/v1/token')}/post/responses/400/content/application~1json/schema`, (await call('POST', '/v1/token', 'grant_type=x', { 'content-type': 'application/x-www-form-urlencoded' })).json],
    ];
    // A call held for approval: the 202, and a poll while it waits.
    const sandbox = (await call('POST', '/v1/sandboxes', '{}')).json.id as string;
    expect((await call('POST', '/v1/invocations', JSON.stringify({ tool: 'file.write', input: { path: 'k.txt', content: 'x' }, sandbox }))).status).toBe(200);
    const held = await call('POST', '/v1/invocations', JSON.stringify({ tool: 'file.delete', input: { path: 'k.txt' }, sandbox }));
    expect(held.status).toBe(202);
    pairs.push([responseSchema('/v1/invocations', 'post', 202), held.json], [responseSchema('/v1/invocations/{id}', 'get', 200), (await call('GET', `/v1/invocations/${held.json.id}`)).json]);
    for (const [pointer, body] of pairs) {
      const check = schema(pointer);
      expect([pointer, check(body), check.errors ?? null]).toEqual([pointer, true, null]);
    }
    // …and can fail: a refusal with a code the route never gives does not match that status.
    expect(schema(responseSchema('/v1/sandboxes/{id}', 'delete', 404))({ error: { code: 'TOOL_NOT_FOUND', message: 'm', details: {}, requestId: 'req_1' } })).toBe(false);
  });
});

describe('buildOpenApiDocument', () => {
  it('treats a GET route\'s HEAD as implied, and names a HEAD without a documented GET', () => {
    const routes: CatalogRoute[] = [
      { method: 'GET', url: '/a', openapi: { operationId: 'a', summary: 'a', auth: false, responses: { 200: { description: 'ok' } }, errors: [] } },
      { method: 'HEAD', url: '/a', openapi: undefined },
      { method: 'HEAD', url: '/b', openapi: undefined },
    ];
    const built = buildOpenApiDocument(routes, '0.0.0');
    expect(built.undocumented).toEqual(['HEAD /b']);
    expect(Object.keys((built.document as { paths: Record<string, object> }).paths['/a'] ?? {})).toEqual(['get']);
  });
});
