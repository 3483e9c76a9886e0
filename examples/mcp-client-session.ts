/**
 * An MCP client session against Cordon, with the official MCP TypeScript SDK.
 *
 *   make run          # in another terminal: cordon serve with ./cordon.yaml
 *   node --no-node-snapshot examples/mcp-client-session.ts \
 *     --url http://127.0.0.1:7070 --agent local --key .cordon/agents/local.key
 *
 * The agent proves who it is with its own Ed25519 key: it signs a short-lived token (60 s) for
 * Cordon's audience and sends it as a bearer token. Cordon verifies it, and every call below goes
 * through the same checks, approvals and audit records as POST /v1/invocations.
 *
 * Loopback only: this example refuses any other host.
 */
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:7070' },
    agent: { type: 'string', default: 'local' },
    key: { type: 'string', default: '.cordon/agents/local.key' },
    audience: { type: 'string', default: 'cordon' },
  },
});

const base = new URL(args.url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname)) {
  process.stderr.write(`refusing ${base.hostname}: this example talks to a Cordon on this machine only\n`);
  process.exit(2);
}

/** A compact JWT signed with the agent's key: EdDSA, iss = sub = the agent, aud = Cordon, 60 s. */
function agentToken(agent: string, key: KeyObject, audience: string): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'EdDSA', typ: 'JWT' })}.${b64({ iss: agent, sub: agent, aud: audience, iat: now, exp: now + 60, jti: randomUUID() })}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

const key = createPrivateKey(readFileSync(args.key));
const client = new Client({ name: 'cordon-example', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
// A fresh token for every request: no token outlives a minute, nothing is stored.
const transport = new StreamableHTTPClientTransport(new URL('/mcp', base), { authProvider: { token: async () => agentToken(args.agent, key, args.audience) } });

const say = (line: string) => process.stdout.write(`${line}\n`);
const show = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');

await client.connect(transport);
try {
  say(`connected to ${new URL('/mcp', base).href} as agent "${args.agent}"`);

  // Only the tools this agent's policies could ever allow are listed.
  const { tools } = await client.listTools();
  say(`tools: ${tools.map((t) => t.name).join(', ')}`);

  const ran = (await client.callTool({ name: 'code', arguments: { language: 'javascript', source: 'const xs = [1, 2, 3]; xs.map((x) => x * x)' } })) as CallToolResult;
  say(`code: ${JSON.stringify((ran.structuredContent as { value?: unknown }).value)}`);

  // The policies let an agent write files inside /workspace, never the folder itself: a denial,
  // which comes back as an error result naming the reason (the model reads it; nothing throws).
  const denied = (await client.callTool({ name: 'file.write', arguments: { path: '/workspace', content: 'x' } })) as CallToolResult;
  say(`denied (isError=${denied.isError === true}): ${show(denied)}`);
} finally {
  await client.close();
}
