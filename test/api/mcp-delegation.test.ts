import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delegatedBearer } from '../support/delegation.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// tools/list for an agent acting for a user: a tool is shown only when both the agent's and the
// user's policies could allow it (shipped policies: the coding group; users by group).
const coder = makeTestAgent('coder', ['coding']);
let env: TestEnv;
let server: TestServer;
let idp: TestIssuer;

beforeAll(async () => {
  idp = await startTestIssuer();
  env = makeTestEnv([coder], {
    auth: { userIssuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl }] },
    users: [
      { id: 'alice@example.test', issuer: idp.issuer, groups: ['engineering'] },
      { id: 'carol@example.test', issuer: idp.issuer, groups: ['contractors'] },
      { id: 'dave@example.test', issuer: idp.issuer, groups: [] },
    ],
  });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  await idp?.close();
  env?.cleanup();
});

async function connectFor(user: string): Promise<Client> {
  // One delegated token per connection is enough here: each request re-sends it.
  const bearer = (await delegatedBearer(server.url, idp, coder, user)).slice('Bearer '.length);
  const client = new Client({ name: 'cordon-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { authProvider: { token: async () => bearer } }));
  return client;
}

const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name);

describe('MCP tools/list for a delegated call: both principals must have a permit in scope', () => {
  it('an engineer: code and the file tools both may use, and no delete (no user policy grants fs.delete)', async () => {
    const client = await connectFor('alice@example.test');
    try {
      const listed = await names(client);
      expect(listed).toEqual(expect.arrayContaining(['code', 'file.read', 'file.write']));
      // The agent alone would be shown these (its group has them); the user has no grant for them.
      expect(listed).not.toContain('file.delete');
      expect(listed).not.toContain('browse.fetch');
    } finally {
      await client.close();
    }
  });

  it('a contractor: reading tools only; a user without groups: nothing, and a call is still denied in full', async () => {
    const carol = await connectFor('carol@example.test');
    try {
      const listed = await names(carol);
      expect(listed).toContain('file.read');
      expect(listed).not.toContain('code');
      expect(listed).not.toContain('file.write');
    } finally {
      await carol.close();
    }
    const dave = await connectFor('dave@example.test');
    try {
      expect(await names(dave)).toEqual([]);
      const denied = (await dave.callTool({ name: 'code', arguments: { language: 'javascript', source: '1' } })) as CallToolResult;
      expect(denied.isError).toBe(true);
      expect(denied.structuredContent).toMatchObject({ error: { code: 'POLICY_DENIED' } });
    } finally {
      await dave.close();
    }
  });
});
