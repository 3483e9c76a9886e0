import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// The shipped policies (and a few purpose-made ones) deciding real calls over the real API.
const SHIPPED = resolve(import.meta.dirname, '..', '..', 'policies');
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function serverWith(agents: TestAgent[], policyDir = SHIPPED): Promise<TestServer> {
  const env = makeTestEnv(agents, { policyDir });
  const server = await startTestServer(env.config);
  cleanups.push(() => env.cleanup(), () => server.close());
  return server;
}

/** A policy folder: the shipped schema plus the given policies. */
function policyDir(policies: string, edit?: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-policies-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  if (edit !== undefined) {
    cpSync(SHIPPED, dir, { recursive: true });
    const rules = join(dir, 'session-rules.cedar');
    writeFileSync(rules, edit(readFileSync(rules, 'utf8')));
    return dir;
  }
  cpSync(join(SHIPPED, 'cordon.cedarschema'), join(dir, 'cordon.cedarschema'));
  writeFileSync(join(dir, 'test.cedar'), policies);
  return dir;
}

async function run(server: TestServer, agent: TestAgent, extra: Record<string, unknown> = {}) {
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '40+2' }, ...extra }),
  });
  const json = (await res.body.json()) as { id?: string; status?: string; approval?: { id: string; policyId: string | null }; error?: { code: string; message: string; details: { decision: { ruleId: string | null; policyIds: string[]; reason: string; evaluated?: unknown } } } };
  return { status: res.statusCode, json };
}

describe('shipped policies through the API', () => {
  const local = makeTestAgent('local', []);
  const coder = makeTestAgent('coder', ['coding']);
  const researcher = makeTestAgent('researcher', ['research']);
  const stranger = makeTestAgent('stranger', []);

  it('lets `local` run JavaScript (local-code-exec-javascript) and a coding agent too (coding-code-exec)', async () => {
    const server = await serverWith([local, coder, researcher, stranger]);
    expect((await run(server, local)).json.status).toBe('ok');
    expect((await run(server, coder)).json.status).toBe('ok');
    const rec = server.audit.records.find((r) => r.agent === 'coder' && r.outcome === 'ok');
    expect(rec?.decision).toMatchObject({ result: 'allow', ruleId: 'coding-code-exec' });
  });

  it('denies a research agent (no permit for code.exec) with 403 naming why, and a stranger by default', async () => {
    const server = await serverWith([researcher, stranger]);
    for (const agent of [researcher, stranger]) {
      const r = await run(server, agent);
      expect(r.status).toBe(403);
      expect(r.json.error?.code).toBe('POLICY_DENIED');
      expect(r.json.error?.message).toContain('no permit matched');
      // Who, what, on what, and the line that shows why: the newcomer's first question answered in the body.
      expect(r.json.error?.message).toMatch(new RegExp(`^denied: agent "${agent.id}" may not code\\.exec language "javascript": no permit matched\\. To see why: cordon policy explain --agent ${agent.id} --tool code --input `));
      expect(r.json.error?.details).toMatchObject({ principal: { agent: agent.id, user: null }, action: 'code.exec', resource: { type: 'language', id: 'javascript' } });
      expect(r.json.error?.details.decision).toMatchObject({ policyIds: [], evaluated: { principal: { agent: `Agent::"${agent.id}"` }, action: 'Action::"code.exec"', resource: 'Language::"javascript"' } });
    }
  });
});

describe('chain rules through the API', () => {
  it('the same call is allowed, then denied once the session has used its budget', async () => {
    const coder = makeTestAgent('coder', ['coding']);
    const server = await serverWith([coder], policyDir('', (t) => t.replace('context.session.calls >= 500', 'context.session.calls >= 3')));
    for (let i = 0; i < 3; i++) expect((await run(server, coder, { session: 's1' })).status, `call ${i}`).toBe(200);
    const fourth = await run(server, coder, { session: 's1' });
    expect(fourth.status).toBe(403);
    expect(fourth.json.error?.details.decision.ruleId).toBe('chain-session-call-budget');
    // Another session, or no session, is unaffected.
    expect((await run(server, coder, { session: 's2' })).status).toBe(200);
    expect((await run(server, coder)).status).toBe(200);
  });

  it('refuses a malformed session id', async () => {
    const coder = makeTestAgent('coder', ['coding']);
    const server = await serverWith([coder]);
    const r = await run(server, coder, { session: '../x' });
    expect(r.status).toBe(400);
  });
});

describe('fail closed', () => {
  it('denies when a forbid errors during evaluation, although Cedar would skip it and the permit allows', async () => {
    const agent = makeTestAgent('coder', ['coding']);
    const server = await serverWith(
      [agent],
      policyDir(`
@id("allow-code")
permit (principal, action == Action::"code.exec", resource is Language);

// Overflows (an evaluation error) once the session has made 2 calls.
@id("overflowing-forbid")
forbid (principal, action == Action::"code.exec", resource is Language)
when { context.session.calls * 4611686018427387904 > 4611686018427387904 };
`),
    );
    expect((await run(server, agent, { session: 'e' })).status).toBe(200);
    expect((await run(server, agent, { session: 'e' })).status).toBe(200);
    const third = await run(server, agent, { session: 'e' });
    expect(third.status).toBe(403);
    expect(third.json.error?.code).toBe('POLICY_DENIED');
    expect(JSON.stringify(third.json.error?.details)).toContain('overflowing-forbid');
  });

  it('holds a call that needs approval (202 pending_approval naming the policy), and never runs it', async () => {
    const agent = makeTestAgent('coder', ['coding']);
    const server = await serverWith(
      [agent],
      policyDir(`
@approval("required")
@id("code-needs-approval")
permit (principal, action == Action::"code.exec", resource is Language);
`),
    );
    const r = await run(server, agent);
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ status: 'pending_approval', approval: { policyId: 'code-needs-approval' } });
    const requested = server.audit.records.find((rec) => rec.kind === 'approval' && rec.invocation === r.json.id && r.json.id !== undefined);
    expect(requested).toMatchObject({ outcome: 'requested', decision: { result: 'require_approval' }, approval: { event: 'requested', id: r.json.approval?.id } });
    expect(requested?.decision?.policyIds).toContain('code-needs-approval');
    expect(server.audit.records.some((rec) => rec.outcome === 'ok')).toBe(false);
  });
});
