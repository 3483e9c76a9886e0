import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/audit-sink.ts';
import { createFailingAuditSink } from '../support/failing-audit-sink.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';

// The one rule for a failed audit append, through the real API: a call Cordon cannot record
// does not run (its `started` record comes first) and is not answered with its result.
const coder = makeTestAgent('coder', ['coding']);
const bearer = () => `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}`;

let env: TestEnv;
let workspace: string;
let server: TestServer | undefined;

beforeEach(() => {
  env = makeTestEnv([coder], { sandbox: { container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } } });
  workspace = mkdtempSync(join(tmpdir(), 'cordon-audit-durability-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  env.cleanup();
  rmSync(workspace, { recursive: true, force: true });
});

/** A server whose isolate sandboxes all work in `workspace`, so a test sees what a tool wrote. */
async function serve(audit?: TestServer['audit']): Promise<TestServer> {
  server = await startTestServer(env.config, { workspaceRoot: workspace, ...(audit === undefined ? {} : { audit }) });
  return server;
}

async function call(s: TestServer, method: 'GET' | 'POST', path: string, body?: unknown, authorization = bearer()) {
  const res = await request(`${s.url}${path}`, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as { id?: string; error?: { code: string; details?: unknown }; sandboxes?: unknown[] } };
}

const writeFile = (s: TestServer, path: string) => call(s, 'POST', '/v1/invocations', { tool: 'file.write', input: { path, content: 'written\n' } });
const isFinalWrite = (r: AuditRecord) => r.kind === 'invocation' && r.tool === 'file.write' && r.outcome !== 'started';

describe('a call that cannot be recorded', () => {
  it('is refused with AUDIT_UNAVAILABLE before its sandbox starts: the file is not written, and every later call is refused too', async () => {
    const audit = createFailingAuditSink((r) => r.tool === 'file.write');
    const s = await serve(audit);
    const res = await writeFile(s, 'never.txt');
    expect(res).toMatchObject({ status: 503, json: { error: { code: 'AUDIT_UNAVAILABLE', details: { reason: 'ENOSPC' } } } });
    expect(existsSync(join(workspace, 'never.txt'))).toBe(false);
    expect(audit.refused).toEqual([expect.objectContaining({ tool: 'file.write', outcome: 'started' })]);
    // Fail closed: the log stays failed, so a call that would otherwise run is refused as well,
    // and so is a refused authentication (its record cannot be written either).
    expect(await call(s, 'POST', '/v1/invocations', { tool: 'code', input: { language: 'javascript', source: '1+1' } })).toMatchObject({ status: 503, json: { error: { code: 'AUDIT_UNAVAILABLE' } } });
    expect(await call(s, 'POST', '/v1/invocations', { tool: 'code', input: { language: 'javascript', source: '1' } }, 'Bearer not-a-token')).toMatchObject({ status: 503, json: { error: { code: 'AUDIT_UNAVAILABLE' } } });
    expect(audit.records.filter((r) => r.kind === 'invocation')).toEqual([]);
  });

  it('that ran but whose final record fails is answered AUDIT_UNAVAILABLE, not with its result; its started record is kept', async () => {
    const audit = createFailingAuditSink(isFinalWrite);
    const s = await serve(audit);
    const res = await writeFile(s, 'ran.txt');
    expect(res).toMatchObject({ status: 503, json: { error: { code: 'AUDIT_UNAVAILABLE' } } });
    expect(res.json.id).toBeUndefined();
    // The tool did run (its started record was on disk first): the log says so, the answer does not claim success.
    expect(readFileSync(join(workspace, 'ran.txt'), 'utf8')).toBe('written\n');
    const started = audit.records.find((r) => r.tool === 'file.write');
    expect(started).toMatchObject({ kind: 'invocation', outcome: 'started', decision: { result: 'allow' }, invocation: expect.stringMatching(/^inv_/) as string });
    expect(audit.refused).toEqual([expect.objectContaining({ invocation: started?.invocation, outcome: 'ok' })]);
  });

  it('a sandbox whose creation cannot be recorded is refused and removed, not left running unrecorded', async () => {
    const audit = createFailingAuditSink((r) => r.kind === 'sandbox');
    const s = await serve(audit);
    expect(await call(s, 'POST', '/v1/sandboxes', { profile: 'js' })).toMatchObject({ status: 503, json: { error: { code: 'AUDIT_UNAVAILABLE' } } });
    expect(audit.refused).toEqual([expect.objectContaining({ kind: 'sandbox', action: 'sandbox.create', outcome: 'created' })]);
    expect(s.runtime.sandboxes.manager.stats()).toEqual({ sessions: 0 });
  });
});

describe('the started record', () => {
  it('is written before the result, with the same invocation id the client got, and both verify as one call', async () => {
    const s = await serve();
    const res = await writeFile(s, 'both.txt');
    expect(res.status).toBe(200);
    const mine = s.audit.records.filter((r) => r.invocation === res.json.id);
    expect(mine.map((r) => r.outcome)).toEqual(['started', 'ok']);
    expect(mine[0]).toMatchObject({ kind: 'invocation', tool: 'file.write', action: 'fs.write', resource: 'file:/workspace/both.txt', decision: { result: 'allow' } });
    expect(mine[0]?.inputSha256).toBe(mine[1]?.inputSha256);
  });

  it('is not written for a call refused before it would run', async () => {
    const s = await serve();
    const res = await call(s, 'POST', '/v1/invocations', { tool: 'code', input: { language: 'javascript' } });
    expect(res.status).toBe(400);
    expect(s.audit.records.filter((r) => r.outcome === 'started')).toEqual([]);
  });
});
