import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalView } from '../../src/approvals/approval-types.ts';
import { makeTestApprover, signedDecision, type TestApprover } from '../support/approvers.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// The whole approval flow through the runner API: a held call answers 202, the agent long-polls,
// an approver's signed decision (through the service the operator channels call) runs it once.
const coder = makeTestAgent('coder', ['coding']);
const other = makeTestAgent('other', ['coding']);
const alice = makeTestApprover('alice');
const carol = makeTestApprover('carol');
const NO_DOCKER = { container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } };
const approvers = (...list: [TestApprover, string[]][]) => list.map(([a, tools]) => ({ name: a.name, publicKey: a.publicKeyPem, tools }));

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const bearer = (agent: TestAgent) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of several shapes, checked field by field
type Json = Record<string, any>;

async function call(server: TestServer, method: 'GET' | 'POST', path: string, auth: string | null, body?: unknown, signal?: AbortSignal): Promise<{ status: number; json: Json }> {
  const res = await request(`${server.url}${path}`, {
    method,
    headers: { ...(auth === null ? {} : { authorization: auth }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal === undefined ? {} : { signal }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: (text === '' ? null : JSON.parse(text)) as Json };
}

const tool = (server: TestServer, agent: TestAgent, name: string, input: unknown, extra: Record<string, unknown> = {}) => call(server, 'POST', '/v1/invocations', bearer(agent), { tool: name, input, ...extra });
const poll = (server: TestServer, agent: TestAgent, id: string, waitMs = 0, signal?: AbortSignal) => call(server, 'GET', `/v1/invocations/${id}?waitMs=${waitMs}`, bearer(agent), undefined, signal);

function viewOf(server: TestServer, approvalId: string): ApprovalView {
  const view = server.runtime.approvals.get(approvalId);
  if (view === null) throw new Error(`no approval ${approvalId}`);
  return view;
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return 'accepted';
}

describe('approvals through the runner API (shipped policies: deletes wait for approval)', () => {
  let env: TestEnv;
  let server: TestServer;
  let sandbox: string;

  beforeAll(async () => {
    env = makeTestEnv([coder, other], { sandbox: NO_DOCKER, approvals: { maxWaitMs: 20_000, approvers: approvers([alice, ['file.*']], [carol, ['code']]) } });
    server = await startTestServer(env.config);
    cleanups.push(() => env.cleanup(), () => server.close());
    sandbox = (await call(server, 'POST', '/v1/sandboxes', bearer(coder), { profile: 'js' })).json.id as string;
  });

  async function heldDelete(path: string): Promise<{ id: string; approval: Json }> {
    expect((await tool(server, coder, 'file.write', { path, content: 'precious' }, { sandbox })).status).toBe(200);
    const held = await tool(server, coder, 'file.delete', { path }, { sandbox });
    expect(held.status).toBe(202);
    return held.json as { id: string; approval: Json };
  }

  it('holds the delete (202), runs it once when approved — two approvals racing — and the long-poll returns its result', async () => {
    const held = await heldDelete('doomed.txt');
    expect(held).toEqual({ id: expect.stringMatching(/^inv_/) as string, status: 'pending_approval', approval: { id: expect.stringMatching(/^apr_/) as string, reason: expect.stringContaining('approval-destructive') as string, policyId: 'approval-destructive', expiresAt: expect.any(String) as string } });
    expect(await poll(server, coder, held.id)).toEqual({ status: 200, json: { id: held.id, status: 'pending_approval', approval: held.approval } });

    // The operator sees the exact call: tool, input, both principals, where it runs.
    const view = viewOf(server, held.approval.id as string);
    expect(view.invocation).toMatchObject({ invocation: held.id, tool: 'file.delete', input: { path: 'doomed.txt' }, agent: 'coder', user: null, sandbox });

    const waiting = poll(server, coder, held.id, 15_000);
    const decisions = await Promise.allSettled([server.runtime.approvals.decide(signedDecision(alice, view, 'approve')), server.runtime.approvals.decide(signedDecision(alice, view, 'approve'))]);
    expect(decisions.filter((d) => d.status === 'fulfilled')).toHaveLength(1);
    expect(decisions.filter((d) => d.status === 'rejected').map((d) => (d.reason as { code: string }).code)).toEqual(['APPROVAL_ALREADY_DECIDED']);

    const answered = await waiting;
    expect(answered).toMatchObject({ status: 200, json: { id: held.id, tool: 'file.delete', status: 'ok', output: { path: 'doomed.txt' } } });
    expect(await tool(server, coder, 'file.stat', { path: 'doomed.txt' }, { sandbox })).toMatchObject({ status: 404, json: { error: { code: 'FS_NOT_FOUND' } } });
    // Ran once: one run under the id the agent was given (its started record, then its result); the approval's events around it.
    expect(server.audit.records.filter((r) => r.kind === 'invocation' && r.invocation === held.id).map((r) => r.outcome)).toEqual(['started', 'ok']);
    expect(server.audit.records.filter((r) => r.kind === 'approval' && r.invocation === held.id).map((r) => [r.approval?.event, r.approval?.approver ?? null, r.agent])).toEqual([
      ['requested', null, 'coder'],
      ['approved', 'alice', 'coder'],
    ]);
    // The result stays readable; a later decision is refused.
    expect((await poll(server, coder, held.id)).json).toEqual(answered.json);
    expect(await rejection(server.runtime.approvals.decide(signedDecision(alice, view, 'deny')))).toBe('APPROVAL_ALREADY_DECIDED');
    expect(server.runtime.approvals.get(view.id)).toMatchObject({ status: 'approved', decidedBy: 'alice' });
  });

  it('answers 403 APPROVAL_DENIED naming the approver after a deny; the file stays', async () => {
    const held = await heldDelete('kept.txt');
    const view = viewOf(server, held.approval.id as string);
    await server.runtime.approvals.decide(signedDecision(alice, view, 'deny'));
    expect(await poll(server, coder, held.id, 1000)).toMatchObject({ status: 403, json: { error: { code: 'APPROVAL_DENIED', details: { approver: 'alice', approval: view.id } } } });
    expect(await tool(server, coder, 'file.read', { path: 'kept.txt' }, { sandbox })).toMatchObject({ status: 200, json: { output: { content: 'precious' } } });
    expect(server.audit.records.some((r) => r.kind === 'invocation' && r.invocation === held.id)).toBe(false);
    expect(server.audit.records.find((r) => r.kind === 'approval' && r.invocation === held.id && r.approval?.event === 'denied')?.approval?.approver).toBe('alice');
  });

  it('refuses forged and unentitled decisions through the service, changing nothing', async () => {
    const held = await heldDelete('guarded.txt');
    const view = viewOf(server, held.approval.id as string);
    // carol may approve code calls only.
    expect(await rejection(server.runtime.approvals.decide(signedDecision(carol, view, 'approve')))).toBe('APPROVAL_NOT_PERMITTED');
    // Signed by carol's key, naming alice.
    const forged = signedDecision({ ...carol, name: 'alice' }, view, 'approve');
    expect(await rejection(server.runtime.approvals.decide(forged))).toBe('APPROVAL_SIGNATURE_INVALID');
    expect(await rejection(server.runtime.approvals.decide(signedDecision(alice, view, 'approve', { invocationHash: '0'.repeat(64) })))).toBe('APPROVAL_HASH_MISMATCH');
    expect(await rejection(server.runtime.approvals.decide({ statement: signedDecision(alice, view, 'approve').statement } as never))).toBe('INPUT_INVALID');
    expect(viewOf(server, view.id).status).toBe('pending');
    expect((await poll(server, coder, held.id)).json.status).toBe('pending_approval');
    // A signed statement counts once: replaying the winning one is refused.
    const deny = signedDecision(alice, view, 'deny');
    await server.runtime.approvals.decide(deny);
    expect(await rejection(server.runtime.approvals.decide(deny))).toBe('APPROVAL_REPLAYED');
    // Each refusal is an approval record naming the code, the approval and who the statement claims to be.
    const refused = server.audit.records.filter((r) => r.kind === 'approval' && r.approval?.event === 'refused' && r.approval.id === view.id).map((r) => [r.outcome, r.approval?.claimedApprover ?? null]);
    expect(refused).toEqual([
      ['APPROVAL_NOT_PERMITTED', 'carol'],
      ['APPROVAL_SIGNATURE_INVALID:bad_signature', 'alice'],
      ['APPROVAL_HASH_MISMATCH', 'alice'],
      ['INPUT_INVALID', 'alice'],
      ['APPROVAL_REPLAYED', 'alice'],
    ]);
  });

  it('shows a held call only to the principal that made it: anyone else gets 404, as for an unknown id', async () => {
    const held = await heldDelete('mine.txt');
    const theirs = await poll(server, other, held.id);
    const unknown = await poll(server, coder, 'inv_0000000000000000000000000a');
    expect(theirs).toMatchObject({ status: 404, json: { error: { code: 'INVOCATION_NOT_FOUND' } } });
    expect(unknown).toMatchObject({ status: 404, json: { error: { code: 'INVOCATION_NOT_FOUND' } } });
    expect(Object.keys(theirs.json.error as object)).toEqual(Object.keys(unknown.json.error as object));
    expect(await poll(server, coder, 'inv_../../approvals')).toMatchObject({ status: 404 });
    // The same agent acting for a user is another principal: the call it made for itself is not theirs.
    const forUser = { agent: 'coder', user: { issuer: 'cordon-local-users', subject: 'mallory' }, tokenId: 't', expiresAt: Math.ceil(Date.now() / 1000) + 60, scope: null };
    expect(await rejection(server.runtime.runner.readInvocation(forUser, held.id, { waitMs: 0 }))).toBe('INVOCATION_NOT_FOUND');
    expect((await call(server, 'GET', `/v1/invocations/${held.id}`, null)).status).toBe(401);
  });

  it('refuses a waitMs that is not a whole number of milliseconds within the cap, and unknown parameters', async () => {
    const held = await heldDelete('waits.txt');
    for (const q of ['waitMs=abc', 'waitMs=-1', 'waitMs=1.5', 'waitMs=20001', 'waitMs=', 'waitMs=1e3', 'waitMs=1&waitMs=2', 'wait=5']) {
      expect(await call(server, 'GET', `/v1/invocations/${held.id}?${q}`, bearer(coder)), q).toMatchObject({ status: 400, json: { error: { code: 'INPUT_INVALID' } } });
    }
    expect((await call(server, 'GET', `/v1/invocations/${held.id}`, bearer(coder))).json.status).toBe('pending_approval');
    expect((await call(server, 'POST', `/v1/invocations/${held.id}`, bearer(coder), {})).status).toBe(405);
  });

  it('stops waiting for a client that went away', async () => {
    const held = await heldDelete('left.txt');
    const gone = new AbortController();
    const waiters = () => server.runtime.runner.stats().approvalWaiters;
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((r) => setTimeout(r, 10));
    };
    expect(waiters()).toBe(0);
    const waiting = poll(server, coder, held.id, 15_000, gone.signal);
    // The server holds the long-poll (one waiter); then the client leaves, and the server lets go.
    await until(() => waiters() === 1);
    gone.abort();
    await expect(waiting).rejects.toThrow();
    await until(() => waiters() === 0);
    // The approval is untouched, and still answers the agent when it comes back.
    expect((await poll(server, coder, held.id)).json.status).toBe('pending_approval');
  });

  it('holds at most 64 long-polls open per agent: the next is 429 naming the quota; another agent still waits, and a quick poll still answers', async () => {
    const held = await heldDelete('many-polls.txt');
    const gone = new AbortController();
    const waiters = () => server.runtime.runner.stats().approvalWaiters ?? 0;
    const open = Array.from({ length: 64 }, () => poll(server, coder, held.id, 15_000, gone.signal).catch(() => null));
    try {
      for (let i = 0; i < 1000 && waiters() < 64; i++) await new Promise((r) => setTimeout(r, 10));
      expect(waiters()).toBe(64);
      const refused = await poll(server, coder, held.id, 15_000);
      expect(refused).toMatchObject({ status: 429, json: { error: { code: 'RATE_LIMITED', details: { quota: 'agent_approval_waiters', limit: 64 } } } });
      expect((await poll(server, coder, held.id, 0)).json.status).toBe('pending_approval');
      // Another agent's share is its own: its long-poll on its own held call waits, and answers pending.
      const theirs = (await call(server, 'POST', '/v1/sandboxes', bearer(other), { profile: 'js' })).json.id as string;
      expect((await tool(server, other, 'file.write', { path: 'x.txt', content: 'x' }, { sandbox: theirs })).status).toBe(200);
      const theirHeld = await tool(server, other, 'file.delete', { path: 'x.txt' }, { sandbox: theirs });
      expect(theirHeld.status).toBe(202);
      expect(await poll(server, other, theirHeld.json.id as string, 300)).toMatchObject({ status: 200, json: { status: 'pending_approval' } });
    } finally {
      gone.abort();
      await Promise.all(open);
    }
    for (let i = 0; i < 1000 && waiters() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(waiters()).toBe(0);
  });
});

describe('approvals that expire, survive a restart, and meet a policy changed since', () => {
  const SHIPPED = resolve(import.meta.dirname, '..', '..', 'policies');
  function policyDir(text: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-policies-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(SHIPPED, 'cordon.cedarschema'), join(dir, 'cordon.cedarschema'));
    writeFileSync(join(dir, 'test.cedar'), text);
    return dir;
  }
  const needsApproval = policyDir('@approval("required")\n@id("code-needs-approval")\npermit (principal, action == Action::"code.exec", resource is Language);\n');
  const nowDenied = policyDir('@id("allow-code")\npermit (principal, action == Action::"code.exec", resource is Language);\n@id("code-forbidden")\nforbid (principal, action == Action::"code.exec", resource);\n');

  async function serverOn(policy: string, overrides: Record<string, unknown> = {}): Promise<TestServer & { env: TestEnv }> {
    const env = makeTestEnv([coder, other], { sandbox: NO_DOCKER, policyDir: policy, ...overrides });
    const server = await startTestServer(env.config);
    cleanups.push(() => env.cleanup(), () => server.close());
    return Object.assign(server, { env });
  }
  const run = (server: TestServer) => tool(server, coder, 'code', { language: 'javascript', source: '40+2' });

  it('answers 410 APPROVAL_EXPIRED once no one decided in time, and refuses a late decision', async () => {
    const server = await serverOn(needsApproval, { approvals: { ttlMs: 1000, approvers: approvers([carol, ['code']]) } });
    const held = await run(server);
    expect(held.status).toBe(202);
    // The long-poll wakes when the approval expires.
    expect(await poll(server, coder, held.json.id as string, 15_000)).toMatchObject({ status: 410, json: { error: { code: 'APPROVAL_EXPIRED' } } });
    const view = viewOf(server, held.json.approval.id as string);
    expect(view.status).toBe('expired');
    expect(await rejection(server.runtime.approvals.decide(signedDecision(carol, view, 'approve')))).toBe('APPROVAL_EXPIRED');
    expect(await server.runtime.approvals.expireDue()).toBe(1);
    // The late decision is refused, and recorded as such.
    expect(server.audit.records.filter((r) => r.kind === 'approval').map((r) => [r.approval?.event, r.approval?.event === 'refused' ? r.outcome : null])).toEqual([
      ['requested', null],
      ['refused', 'APPROVAL_EXPIRED'],
      ['expired', null],
    ]);
    expect(server.audit.records.some((r) => r.kind === 'invocation')).toBe(false);
  });

  it('refuses new held calls past the caps with 429 RATE_LIMITED, storing nothing', async () => {
    const server = await serverOn(needsApproval, { approvals: { maxPending: 2, maxPendingPerAgent: 1 } });
    expect((await run(server)).status).toBe(202);
    expect(await run(server)).toMatchObject({ status: 429, json: { error: { code: 'RATE_LIMITED', details: { quota: 'agent_approvals_pending' } } } });
    expect((await tool(server, other, 'code', { language: 'javascript', source: '1' })).status).toBe(202);
    expect(server.runtime.approvals.list({ status: 'pending' }).map((a) => a.invocation.agent).sort()).toEqual(['coder', 'other']);
  });

  it('answers open long-polls with the state as it is when the server closes, instead of holding the close', async () => {
    const server = await serverOn(needsApproval, { approvals: { approvers: approvers([carol, ['code']]) } });
    const held = await run(server);
    // Longer than the test's own timeout: were the close held by the poll, the test would fail.
    const waiting = poll(server, coder, held.json.id as string, 25_000);
    while (server.runtime.runner.stats().approvalWaiters !== 1) await new Promise((r) => setTimeout(r, 10));
    const closed = server.close();
    expect(await waiting).toMatchObject({ status: 200, json: { status: 'pending_approval' } });
    await closed;
  });

  it('keeps held calls across a restart; runs an approved one; refuses one the policy now denies', async () => {
    const first = await serverOn(needsApproval, { approvals: { approvers: approvers([carol, ['code']]) } });
    const kept = await run(first);
    const refused = await run(first);
    expect([kept.status, refused.status]).toEqual([202, 202]);
    await first.close();

    const dataDir = first.env.config.dataDir;
    const second = await serverOn(needsApproval, { dataDir, approvals: { approvers: approvers([carol, ['code']]) } });
    expect((await poll(second, coder, kept.json.id as string)).json).toMatchObject({ status: 'pending_approval', approval: kept.json.approval });
    await second.runtime.approvals.decide(signedDecision(carol, viewOf(second, kept.json.approval.id as string), 'approve'));
    expect(await poll(second, coder, kept.json.id as string, 15_000)).toMatchObject({ status: 200, json: { id: kept.json.id, tool: 'code', status: 'ok', output: { value: 42 } } });
    await second.close();

    // The policy changed to deny since the call was held: the approval does not override it.
    const third = await serverOn(nowDenied, { dataDir, approvals: { approvers: approvers([carol, ['code']]) } });
    await third.runtime.approvals.decide(signedDecision(carol, viewOf(third, refused.json.approval.id as string), 'approve'));
    expect(await poll(third, coder, refused.json.id as string, 15_000)).toMatchObject({ status: 403, json: { error: { code: 'POLICY_DENIED' } } });
    expect(third.audit.records.filter((r) => r.kind === 'invocation' && r.invocation === refused.json.id).map((r) => r.outcome)).toEqual(['POLICY_DENIED']);
    // The approved result from before the restart is still there for its agent.
    expect((await poll(third, coder, kept.json.id as string)).json).toMatchObject({ status: 'ok', output: { value: 42 } });
  });
});
