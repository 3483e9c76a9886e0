import { Writable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';

// log.invocations: one info line per ended tool call through the runner's logger, with the
// call's facts and never its input or output; values pass the redactor like audit records.
const SECRET = `sk-test-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const INPUT_MARKER = `input-marker-${Math.random().toString(36).slice(2)}`;
const OUTPUT_MARKER = `output-marker-${Math.random().toString(36).slice(2)}`;
const coder = makeTestAgent('coder', ['coding']);
const stranger = makeTestAgent('stranger', []);
const NO_DOCKER = { container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } };

interface Served {
  env: TestEnv;
  server: TestServer;
  lines: () => Record<string, unknown>[];
}

async function serve(invocations: boolean): Promise<Served> {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const env = makeTestEnv([coder, stranger], { sandbox: NO_DOCKER, log: { level: 'info', invocations }, egress: { secrets: { API_TOKEN: { env: 'TEST_API_TOKEN' } } } });
  const server = await startTestServer(env.config, { logger: createLogger('info', sink), env: { TEST_API_TOKEN: SECRET } });
  return { env, server, lines: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'invocation') };
}

const bearer = (agent: TestAgent) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`;

async function call(server: TestServer, body: unknown, auth: string): Promise<{ status: number; requestId: string; json: Record<string, unknown> }> {
  const res = await request(`${server.url}/v1/invocations`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify(body) });
  return { status: res.statusCode, requestId: String(res.headers['x-request-id']), json: (await res.body.json()) as Record<string, unknown> };
}

/** One of each way a call ends, plus a refused token (which gets no line: anyone can send those). */
async function makeCalls(server: TestServer) {
  const code = (source: string, agent = coder) => call(server, { tool: 'code', input: { language: 'javascript', source } }, bearer(agent));
  return {
    ok: await code(`/* ${INPUT_MARKER} */ "${OUTPUT_MARKER}"`),
    failed: await code(`throw new Error("${INPUT_MARKER}")`),
    denied: await code('1', stranger),
    unknownTool: await call(server, { tool: 'no.such.tool', input: {} }, bearer(coder)),
    held: await call(server, { tool: 'file.delete', input: { path: 'doomed.txt' } }, bearer(coder)),
    secretPath: await call(server, { tool: 'file.read', input: { path: `notes-${SECRET}.txt` } }, bearer(coder)),
    badToken: await call(server, { tool: 'code', input: {} }, 'Bearer not.a.token'),
  };
}

describe('log.invocations: true', () => {
  let on: Served;
  beforeAll(async () => {
    on = await serve(true);
  });
  afterAll(async () => {
    await on?.server.close();
    on?.env.cleanup();
  });

  it('logs exactly one line per ended call, at info, with the call\'s facts and nothing of its input or output', async () => {
    const calls = await makeCalls(on.server);
    expect([calls.ok.status, calls.failed.status, calls.denied.status, calls.unknownTool.status, calls.held.status, calls.badToken.status]).toEqual([200, 200, 403, 404, 202, 401]);
    const lines = on.lines();
    const byRequest = (id: string) => lines.filter((l) => l.requestId === id);
    for (const [name, c] of Object.entries(calls)) expect(byRequest(c.requestId), name).toHaveLength(name === 'badToken' ? 0 : 1);
    expect(lines).toHaveLength(6);
    expect(byRequest(calls.ok.requestId)[0]).toEqual({
      level: 30, time: expect.any(Number) as number, service: 'cordon', msg: 'invocation',
      invocation: calls.ok.json.id, agent: 'coder', user: null, tool: 'code', action: 'code.exec', resource: 'language:javascript', sandbox: expect.stringMatching(/^sbx_/) as string,
      outcome: 'ok', decision: { result: 'allow', reason: expect.any(String) as string, ruleId: 'coding-code-exec' }, durationMs: expect.any(Number) as number, requestId: calls.ok.requestId,
    });
    expect(byRequest(calls.failed.requestId)[0]).toMatchObject({ outcome: 'error', decision: { result: 'allow' } });
    expect(byRequest(calls.denied.requestId)[0]).toMatchObject({ agent: 'stranger', outcome: 'POLICY_DENIED', decision: { result: 'deny', ruleId: null } });
    expect(byRequest(calls.unknownTool.requestId)[0]).toMatchObject({ tool: 'no.such.tool', action: null, outcome: 'TOOL_NOT_FOUND', decision: null });
    expect(byRequest(calls.held.requestId)[0]).toMatchObject({ tool: 'file.delete', action: 'fs.delete', resource: 'file:/workspace/doomed.txt', outcome: 'pending_approval', decision: { result: 'require_approval' } });
    const all = JSON.stringify(lines);
    expect(all).not.toContain(INPUT_MARKER);
    expect(all).not.toContain(OUTPUT_MARKER);
    // A configured secret in a resource is redacted, as in the audit record.
    expect(all).not.toContain(SECRET);
    expect(byRequest(calls.secretPath.requestId)[0]?.resource).toMatch(/^file:\/workspace\/notes-.*\.txt$/);
  });
});

describe('log.invocations: false (the default)', () => {
  it('logs no invocation line at all', async () => {
    const off = await serve(false);
    try {
      const calls = await makeCalls(off.server);
      expect(calls.ok.json.status).toBe('ok');
      expect(off.lines()).toEqual([]);
    } finally {
      await off.server.close();
      off.env.cleanup();
    }
  });
});
