import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// The example runs as a user runs it: a child process on the same Node, against a real server,
// with its agent's key in a file. The transcript must show each turn doing what it says.
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const coder = makeTestAgent('coder', ['coding']);
const NO_DOCKER = { container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } };
let env: TestEnv;
let server: TestServer;
let keyFile: string;

beforeAll(async () => {
  env = makeTestEnv([coder], { sandbox: NO_DOCKER });
  server = await startTestServer(env.config);
  keyFile = join(env.dir, 'coder.key');
  writeFileSync(keyFile, coder.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const example = (args: string[], extraEnv: Record<string, string> = {}) =>
  run(process.execPath, ['--no-node-snapshot', join(ROOT, 'examples', 'agent-loop.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...extraEnv },
    timeout: 60_000,
  });

it('runs the scripted loop: writes, reads, computes, edits, recovers from a refusal, and leaves the delete to an operator', async () => {
  const { stdout } = await example(['--url', server.url, '--agent', 'coder', '--key', keyFile]);
  const lines = stdout.split('\n');
  const answers = lines.filter((l) => /^ {8}(->|refused:|held:|still waiting:)/.test(l)).map((l) => l.trim());
  expect(answers).toEqual([
    expect.stringMatching(/^-> +ok \{"path":"todo.json","sizeBytes":\d+\}$/),
    expect.stringMatching(/^-> +ok .*"content":"\{\\"tasks\\":\[\\"write tests\\",\\"fix the bug\\"\],\\"done\\":0\}"/),
    expect.stringMatching(/^-> +ok .*"value":2[,}]/),
    expect.stringMatching(/^-> +ok \{"path":"todo.json"/),
    expect.stringMatching(/^-> +ok .*\\"done\\":2\}"/),
    expect.stringMatching(/^-> +ok .*"value":"all done"/),
    expect.stringMatching(/^refused: FS_OUTSIDE_WORKSPACE \(403\) .*outside the workspace/),
    expect.stringMatching(/^-> +ok \{"path":"summary.txt"/),
    expect.stringMatching(/^held: +pending_approval .*approval apr_/),
    expect.stringMatching(/^still waiting: an operator can run {2}cordon approvals approve apr_/),
  ]);
  expect(stdout).toMatch(/sandbox sbx_\S+ destroyed; verdict: all done/);

  // What the transcript says happened is what the server recorded, as this agent.
  const outcomes = server.audit.records.filter((r) => r.kind === 'invocation' && r.outcome !== 'started').map((r) => [r.agent, r.tool, r.outcome]);
  expect(outcomes).toEqual([
    ['coder', 'file.write', 'ok'],
    ['coder', 'file.read', 'ok'],
    ['coder', 'code', 'ok'],
    ['coder', 'file.edit', 'ok'],
    ['coder', 'file.read', 'ok'],
    ['coder', 'code', 'ok'],
    ['coder', 'file.write', 'FS_OUTSIDE_WORKSPACE'],
    ['coder', 'file.write', 'ok'],
  ]);
  expect(server.runtime.approvals.list({ status: 'pending' }).map((a) => [a.invocation.tool, a.invocation.input])).toEqual([['file.delete', { path: 'todo.json' }]]);
  expect(server.runtime.runner.listSandboxes({ agent: 'coder', user: null, tokenId: 't', expiresAt: Math.ceil(Date.now() / 1000) + 60, scope: null })).toEqual([]);
}, 60_000); // a child Node process loading the client, nine turns: room for a loaded machine

it('takes its settings from the environment, and says what to do when the key is missing', async () => {
  const failed = await example([], { CORDON_URL: server.url, CORDON_AGENT: 'coder', CORDON_AGENT_KEY: join(env.dir, 'missing.key') }).catch((err: { code: number; stdout: string }) => err);
  expect('code' in failed ? failed.code : 0).toBe(2);
  expect(failed.stdout).toContain(`cannot read the agent key ${join(env.dir, 'missing.key')}`);
}, 60_000);
