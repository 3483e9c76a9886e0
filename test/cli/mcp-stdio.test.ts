import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type CallToolResult } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../support/cli.ts';

// `cordon mcp --agent local` as an MCP client starts it: a process on stdin/stdout, in a fresh
// folder (no config: the embedded default, the agent `local`, its key made in ./data).
let cwd: string;
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-mcp-'));
});
afterAll(() => {
  rmSync(cwd, { recursive: true, force: true });
});

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

function transport(args: string[] = []): StdioClientTransport {
  return new StdioClientTransport({ command: BIN, args: ['mcp', '--agent', 'local', ...args], cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stderr: 'pipe' });
}

describe.each([
  ['a 2025-era client', false],
  ['a 2026-07-28 client', true],
])('cordon mcp over stdio, with %s', (_label, modern) => {
  it('lists the tools `local` may use, runs code, returns a denial as an error result; the process is gone once the client closes', async () => {
    const t = transport();
    let stderr = '';
    t.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const client = new Client({ name: 'cordon-test', version: '1.0.0' }, modern ? { versionNegotiation: { mode: 'auto' } } : {});
    await client.connect(t);
    const pid = t.pid;
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      // The embedded policies grant `local` code and the file tools, and no network tool.
      expect(names).toEqual(expect.arrayContaining(['code', 'file.read', 'file.write']));
      expect(names).not.toContain('browse.fetch');
      expect(names).not.toContain('browse.page');

      const ran = (await client.callTool({ name: 'code', arguments: { language: 'javascript', source: 'console.log("from stdio"); 20 + 22' } })) as CallToolResult;
      expect(ran.isError).toBeFalsy();
      expect(ran.structuredContent).toMatchObject({ status: 'ok', value: 42, stdout: 'from stdio\n' });

      // `local` has no grant for the network: the pipeline denies the call, and the reason comes back as a result.
      const denied = (await client.callTool({ name: 'browse.fetch', arguments: { url: 'https://example.test/' } })) as CallToolResult;
      expect(denied.isError).toBe(true);
      expect(denied.structuredContent).toMatchObject({ error: { code: 'POLICY_DENIED' } });
      expect(text(denied)).toContain('no permit matched');
    } finally {
      await client.close();
    }
    // The client closed the connection; the process must not linger (stdin alone ending it: below).
    expect(pid).not.toBeNull();
    expect(() => process.kill(pid as number, 0)).toThrow();
    expect(stderr).not.toMatch(/Error|error/);
  }, 90_000);
});

it('--user: the local agent acts for a local user, and is shown only what both may do', async () => {
  expect((await runCli(cwd, ['users', 'add', 'alice', '--group', 'engineering'])).code).toBe(0);
  expect((await runCli(cwd, ['users', 'add', 'mallory'])).code).toBe(0);
  const alice = new Client({ name: 'cordon-test', version: '1.0.0' });
  await alice.connect(transport(['--user', 'alice']));
  try {
    const names = (await alice.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['code', 'file.read', 'file.write']));
    // `local` may delete with approval, but no policy lets an engineer delete.
    expect(names).not.toContain('file.delete');
    const ran = (await alice.callTool({ name: 'code', arguments: { language: 'javascript', source: '6 * 7' } })) as CallToolResult;
    expect(ran.structuredContent).toMatchObject({ status: 'ok', value: 42 });
  } finally {
    await alice.close();
  }
  const mallory = new Client({ name: 'cordon-test', version: '1.0.0' });
  await mallory.connect(transport(['--user', 'mallory']));
  try {
    expect((await mallory.listTools()).tools).toEqual([]);
    const denied = (await mallory.callTool({ name: 'code', arguments: { language: 'javascript', source: '1' } })) as CallToolResult;
    expect(denied.structuredContent).toMatchObject({ error: { code: 'POLICY_DENIED' } });
  } finally {
    await mallory.close();
  }
}, 120_000);

it('an input the sandbox profile does not offer is an INPUT_INVALID result naming the field', async () => {
  const client = new Client({ name: 'cordon-test', version: '1.0.0' });
  await client.connect(transport());
  try {
    const refused = (await client.callTool({ name: 'code', arguments: { language: 'typescript', source: 'const x: number = 1; x' } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ error: { code: 'INPUT_INVALID', details: { field: '/language' } } });
    expect(text(refused)).toContain('INPUT_INVALID');
  } finally {
    await client.close();
  }
}, 60_000);

it('an agent that does not exist: the process fails at start and says why on stderr', async () => {
  const t = new StdioClientTransport({ command: BIN, args: ['mcp', '--agent', 'nobody'], cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stderr: 'pipe' });
  let stderr = '';
  t.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'cordon-test', version: '1.0.0' });
  await expect(client.connect(t)).rejects.toThrow();
  await client.close().catch(() => undefined);
  expect(stderr).toContain('no agent "nobody"');
}, 60_000);

it('closing stdin alone ends the process with exit code 0, and stdout held protocol messages only', async () => {
  const child = spawn(BIN, ['mcp', '--agent', 'local'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    let stdout = '';
    const answered = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) resolve();
      });
    });
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
    child.stdin.write(`${JSON.stringify(initialize)}\n`);
    await answered;
    const exited = once(child, 'exit');
    child.stdin.end();
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const lines = stdout.trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as { id?: unknown })).toEqual([expect.objectContaining({ id: 1, result: expect.objectContaining({ serverInfo: expect.objectContaining({ name: 'cordon' }) }) })]);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}, 60_000);
