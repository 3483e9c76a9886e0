import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// The file tools through the real API, in isolate sandboxes (host workspaces under the data directory).
const coder = makeTestAgent('coder', ['coding']);
const researcher = makeTestAgent('researcher', ['research']);
let env: TestEnv;
let server: TestServer;
let dataDir: string;
const CANARY = 'canary: the data directory outside workspaces\n';

beforeAll(async () => {
  env = makeTestEnv([coder, researcher], { sandbox: { container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } } });
  server = await startTestServer(env.config);
  dataDir = env.config.dataDir;
  writeFileSync(join(dataDir, 'canary.txt'), CANARY);
});

afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const bearer = (agent: TestAgent) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`;

async function call(method: 'GET' | 'POST' | 'DELETE', path: string, auth: string, body?: unknown) {
  const res = await request(`${server.url}${path}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
  return { status: res.statusCode, json: (text === '' ? null : JSON.parse(text)) as Record<string, any> };
}

const tool = (auth: string, name: string, input: unknown, sandbox?: string) => call('POST', '/v1/invocations', auth, { tool: name, input, ...(sandbox === undefined ? {} : { sandbox }) });
const session = async (agent: TestAgent) => (await call('POST', '/v1/sandboxes', bearer(agent), { profile: 'js' })).json.id as string;

/** Every path under the data directory (the workspaces folder included), to compare before and after. */
function dataTree(): string[] {
  return (readdirSync(dataDir, { recursive: true }) as string[]).sort();
}

describe('file tools in a session sandbox', () => {
  it('writes, reads, lists, edits and moves across calls; a delete waits for approval', async () => {
    const auth = bearer(coder);
    const id = await session(coder);
    const made = await tool(auth, 'file.mkdir', { path: 'src' }, id);
    expect(made).toMatchObject({ status: 200, json: { output: { path: 'src' } } });
    // Its audit record names the invocation id the client got, and the sandbox's session.
    expect(server.audit.records.findLast((r) => r.invocation === made.json.id)).toMatchObject({ kind: 'invocation', tool: 'file.mkdir', action: 'fs.write', resource: 'file:/workspace/src', sandbox: id, session: `#sandbox/${id}`, outcome: 'ok' });
    expect(await tool(auth, 'file.write', { path: '/workspace/src/app.ts', content: 'let a = 1;\nlet b = 1;\n' }, id)).toMatchObject({ status: 200, json: { output: { path: 'src/app.ts', sizeBytes: 22 } } });
    expect((await tool(auth, 'file.read', { path: 'src/app.ts' }, id)).json.output).toEqual({ path: 'src/app.ts', encoding: 'utf8', content: 'let a = 1;\nlet b = 1;\n', sizeBytes: 22, offset: 0, bytes: 22, truncated: false });
    expect((await tool(auth, 'file.list', { depth: 2 }, id)).json.output).toEqual({ path: '', entries: [{ path: 'src', type: 'directory', sizeBytes: expect.any(Number) as number }, { path: 'src/app.ts', type: 'file', sizeBytes: 22 }], truncated: false });
    expect((await tool(auth, 'file.list', { glob: '**/*.ts', depth: 5 }, id)).json.output.entries.map((e: { path: string }) => e.path)).toEqual(['src/app.ts']);

    // An edit that matches twice changes nothing and says why.
    const ambiguous = await tool(auth, 'file.edit', { path: 'src/app.ts', search: '= 1;', replace: '= 2;' }, id);
    expect(ambiguous).toMatchObject({ status: 409, json: { error: { code: 'FS_EDIT_AMBIGUOUS', details: { count: 2 } } } });
    expect((await tool(auth, 'file.read', { path: 'src/app.ts' }, id)).json.output.content).toBe('let a = 1;\nlet b = 1;\n');
    const conflict = await tool(auth, 'file.edit', { path: 'src/app.ts', diff: '@@ -1,2 +1,2 @@\n-let a = 9;\n+let a = 2;\n let b = 1;\n' }, id);
    expect(conflict).toMatchObject({ status: 409, json: { error: { code: 'FS_EDIT_CONFLICT' } } });
    expect(await tool(auth, 'file.edit', { path: 'src/app.ts', diff: '@@ -1,2 +1,2 @@\n-let a = 1;\n+let a = 2;\n let b = 1;\n' }, id)).toMatchObject({ status: 200 });
    expect(await tool(auth, 'file.edit', { path: 'src/app.ts', search: 'let b = 1;', replace: 'let b = 3;' }, id)).toMatchObject({ status: 200 });
    expect((await tool(auth, 'file.read', { path: 'src/app.ts' }, id)).json.output.content).toBe('let a = 2;\nlet b = 3;\n');

    expect(await tool(auth, 'file.move', { from: 'src/app.ts', to: 'src/main.ts' }, id)).toMatchObject({ status: 200, json: { output: { from: 'src/app.ts', to: 'src/main.ts' } } });
    expect(await tool(auth, 'file.stat', { path: 'src/app.ts' }, id)).toMatchObject({ status: 404, json: { error: { code: 'FS_NOT_FOUND' } } });
    // Deleting is irreversible: the shipped policies hold it for an operator's approval.
    expect(await tool(auth, 'file.delete', { path: 'src/main.ts' }, id)).toMatchObject({ status: 202, json: { status: 'pending_approval', approval: { policyId: 'approval-destructive' } } });
    expect(await tool(auth, 'file.stat', { path: 'src/main.ts' }, id)).toMatchObject({ status: 200, json: { output: { type: 'file', sizeBytes: 22 } } });
    // Replacing a file by a move destroys it: that waits for approval too.
    await tool(auth, 'file.write', { path: 'other.ts', content: 'x' }, id);
    expect(await tool(auth, 'file.move', { from: 'other.ts', to: 'src/main.ts', overwrite: true }, id)).toMatchObject({ status: 202, json: { status: 'pending_approval' } });
  });

  it('reads binary as base64, text in parts without splitting a character, and refuses bad base64', async () => {
    const auth = bearer(coder);
    const id = await session(coder);
    const bytes = Buffer.from([0, 255, 1, 254, 0x80]);
    expect(await tool(auth, 'file.write', { path: 'b.bin', content: bytes.toString('base64'), encoding: 'base64' }, id)).toMatchObject({ status: 200, json: { output: { sizeBytes: 5 } } });
    expect((await tool(auth, 'file.read', { path: 'b.bin', encoding: 'base64' }, id)).json.output.content).toBe(bytes.toString('base64'));
    expect(await tool(auth, 'file.read', { path: 'b.bin' }, id)).toMatchObject({ status: 400, json: { error: { code: 'INPUT_INVALID', details: { reason: 'not_utf8' } } } });
    expect(await tool(auth, 'file.write', { path: 'c.bin', content: 'not base64!', encoding: 'base64' }, id)).toMatchObject({ status: 400, json: { error: { code: 'INPUT_INVALID', details: { field: '/content' } } } });
    expect(await tool(auth, 'file.stat', { path: 'c.bin' }, id)).toMatchObject({ status: 404 });
    // "héllo" is 6 bytes; a 2-byte read ends inside "é" and stops before it.
    await tool(auth, 'file.write', { path: 't.txt', content: 'héllo' }, id);
    expect((await tool(auth, 'file.read', { path: 't.txt', limit: 2 }, id)).json.output).toMatchObject({ content: 'h', bytes: 1, truncated: true, nextOffset: 1 });
    expect((await tool(auth, 'file.read', { path: 't.txt', offset: 1, limit: 2 }, id)).json.output).toMatchObject({ content: 'é', bytes: 2, nextOffset: 3 });
  });

  it('hostile paths are refused with typed errors, and nothing outside the workspace is read or written', async () => {
    const auth = bearer(coder);
    const id = await session(coder);
    await tool(auth, 'file.write', { path: 'inside.txt', content: 'in' }, id);
    const before = dataTree();
    const cases: [string, string, number][] = [
      ['../canary.txt', 'FS_OUTSIDE_WORKSPACE', 403],
      ['../../../canary.txt', 'FS_OUTSIDE_WORKSPACE', 403],
      ['a/../../canary.txt', 'FS_OUTSIDE_WORKSPACE', 403],
      ['/workspace/../canary.txt', 'FS_OUTSIDE_WORKSPACE', 403],
      ['/etc/passwd', 'FS_OUTSIDE_WORKSPACE', 403],
      [`${dataDir}/canary.txt`, 'FS_OUTSIDE_WORKSPACE', 403],
      ['inside.txt\u0000.png', 'FS_INVALID_PATH', 400],
      ['..\\canary.txt', 'FS_INVALID_PATH', 400],
      ['a\u202etxt.exe', 'FS_INVALID_PATH', 400],
      [`${'x'.repeat(300)}/y`, 'FS_INVALID_PATH', 400],
      // Percent escapes and look-alike dots are names, never decoded: they stay inside (and do not exist).
      ['%2e%2e/canary.txt', 'FS_NOT_FOUND', 404],
      ['\u2025/canary.txt', 'FS_NOT_FOUND', 404],
      ['\uff0e\uff0e/canary.txt', 'FS_NOT_FOUND', 404],
    ];
    for (const [path, code, status] of cases) {
      for (const [name, input] of [['file.read', { path }], ['file.write', { path, content: 'pwned' }], ['file.list', { path }], ['file.stat', { path }], ['file.mkdir', { path }], ['file.move', { from: 'inside.txt', to: path }]] as const) {
        // A literal name that does not exist would be made by mkdir (inside): checked below.
        if (status === 404 && (name === 'file.mkdir' || name === 'file.move')) continue;
        const r = await tool(auth, name, input, id);
        expect([name, path, r.status, r.json.error?.code]).toEqual([name, path, status, code]);
      }
    }
    const tooLong = await tool(auth, 'file.read', { path: 'y'.repeat(5000) }, id);
    expect(tooLong).toMatchObject({ status: 400, json: { error: { code: 'INPUT_INVALID', details: { field: '/path' } } } });
    expect(readFileSync(join(dataDir, 'canary.txt'), 'utf8')).toBe(CANARY);
    expect(dataTree()).toEqual(before);
    // What looks like a way out is a plain name: made inside the workspace, and listed there.
    expect(await tool(auth, 'file.mkdir', { path: '%2e%2e/\u2025' }, id)).toMatchObject({ status: 200 });
    expect((await tool(auth, 'file.list', { depth: 2 }, id)).json.output.entries.map((e: { path: string }) => e.path)).toEqual(['%2e%2e', '%2e%2e/\u2025', 'inside.txt']);
    expect(readFileSync(join(dataDir, 'canary.txt'), 'utf8')).toBe(CANARY);
  });

  it('a read-only research agent may read and list, never write', async () => {
    const id = await session(researcher);
    expect(await tool(bearer(researcher), 'file.list', {}, id)).toMatchObject({ status: 200, json: { output: { entries: [] } } });
    expect(await tool(bearer(researcher), 'file.write', { path: 'x.txt', content: 'x' }, id)).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    expect(await tool(bearer(researcher), 'file.move', { from: 'a', to: 'b' }, id)).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
  });
});

describe('file tools in per-call sandboxes', () => {
  it('each call gets a fresh workspace, removed when the call ends', async () => {
    const auth = bearer(coder);
    expect(await tool(auth, 'file.write', { path: 'gone.txt', content: 'soon gone' })).toMatchObject({ status: 200 });
    expect(await tool(auth, 'file.read', { path: 'gone.txt' })).toMatchObject({ status: 404, json: { error: { code: 'FS_NOT_FOUND' } } });
    // The per-call folders are gone once their calls end (the session sandboxes' stay until they end).
    const runners = join(dataDir, 'workspaces');
    const sessions = (await call('GET', '/v1/sandboxes', auth)).json.sandboxes.length + (await call('GET', '/v1/sandboxes', bearer(researcher))).json.sandboxes.length;
    await new Promise((r) => setTimeout(r, 100));
    const folders = existsSync(runners) ? readdirSync(runners).flatMap((r) => readdirSync(join(runners, r))) : [];
    expect(folders.length).toBeLessThanOrEqual(sessions);
  });
});

describe('credentials in what comes back', () => {
  it('a secret a tool prints, or a path names, appears neither in the answer nor in the audit log', async () => {
    const auth = bearer(coder);
    const key = 'AKIA' + 'IOSFODNN7EXAMPLE';
    const printed = await tool(auth, 'code', { language: 'js', source: `console.log('aws ' + 'AKIA' + 'IOSFODNN7EXAMPLE'); 'ghp_' + 'x'.repeat(36)` });
    expect(printed.status).toBe(200);
    expect(printed.json.output).toMatchObject({ stdout: 'aws [REDACTED aws-access-key-id]\n', value: '[REDACTED github-token]' });
    const id = await session(coder);
    const named = await tool(auth, 'file.write', { path: `${key}.txt`, content: 'x' }, id);
    expect(named.status).toBe(200);
    expect(named.json.output.path).toBe('[REDACTED aws-access-key-id].txt');
    const records = JSON.stringify(server.audit.records);
    expect(records).not.toContain(key);
    expect(records).toContain('file:/workspace/[REDACTED aws-access-key-id].txt');
  });
});

