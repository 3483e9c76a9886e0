import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// What MCP tools/list shows follows a reload (runtime.reload: SIGHUP, cordon reload): a policy
// added or removed, or an agent's groups changed, change the listing at once, with no restart.
const ROOT = resolve(import.meta.dirname, '..', '..');
const idle = makeTestAgent('idle', []);
let env: TestEnv;
let server: TestServer;

beforeAll(async () => {
  env = makeTestEnv([idle], { policyDir: 'policies' });
  cpSync(join(ROOT, 'policies'), join(env.dir, 'policies'), { recursive: true });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

async function listed(): Promise<string[]> {
  const client = new Client({ name: 'cordon-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { authProvider: { token: async () => ed25519Token(idle.privateKey, claimsFor(idle.id)) } }));
  try {
    return (await client.listTools()).tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

describe('MCP tools/list after a reload', () => {
  it('follows policies added and removed, and an agent\'s groups', async () => {
    expect(await listed()).toEqual([]);
    const grant = join(env.dir, 'policies', 'idle-code.cedar');
    writeFileSync(grant, '@id("idle-code")\npermit (principal == Agent::"idle", action == Action::"code.exec", resource is Language);\n');
    expect((await server.runtime.reload()).ok).toBe(true);
    expect(await listed()).toEqual(['code']);

    rmSync(grant);
    expect((await server.runtime.reload()).ok).toBe(true);
    expect(await listed()).toEqual([]);

    const doc = parse(readFileSync(env.configPath, 'utf8')) as { agents: { groups: string[] }[] };
    for (const a of doc.agents) a.groups = ['coding'];
    writeFileSync(env.configPath, stringify(doc));
    expect((await server.runtime.reload()).ok).toBe(true);
    const now = await listed();
    expect(now).toEqual(expect.arrayContaining(['code', 'file.read', 'file.delete']));
  });
});
