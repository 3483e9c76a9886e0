import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../audit/canonical-json.ts';
import { CordonError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { APPROVALS_FILE, invocationHash, openApprovalStore, type ApprovalStoreOptions } from './approval-store.ts';
import type { CanonicalInvocation } from './approval-types.ts';

const dirs: string[] = [];
const stores: { close(): void }[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cordon-approvals-'));
  dirs.push(d);
  return d;
}

function open(dir: string, options: Partial<ApprovalStoreOptions> = {}) {
  const store = openApprovalStore(dir, { ttlMs: 60_000, maxPending: 100, maxPendingPerAgent: 100, ...options });
  stores.push(store);
  return store;
}

const principal = (agent: string): Principal => ({ agent, user: { issuer: 'cordon-local-users', subject: 'alice' }, tokenId: 'tok', expiresAt: 1, scope: null });
const needsApproval = { result: 'require_approval' as const, reason: 'destructive', ruleId: 'approval-destructive', details: { policyIds: ['approval-destructive'] } };

function invocation(agent = 'coder', input: unknown = { path: 'a.txt' }): CanonicalInvocation {
  return { invocation: newId('inv'), tool: 'file.delete', input, agent, user: { issuer: 'cordon-local-users', subject: 'alice' }, sandbox: null, profile: 'js', session: null, policyVersion: 'v1' };
}

const nonce = () => randomBytes(16).toString('base64url');
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    return (err as CordonError).code;
  }
  return 'no error';
};

describe('approval store', () => {
  it('stores a pending approval with its call, principal and hash (SHA-256 over RFC 8785 JSON), in an owner-only file', () => {
    const dir = tempDir();
    const store = open(dir);
    const inv = invocation('coder', { z: 1, a: [true, null], m: 'é' });
    const added = store.add({ invocation: inv, principal: principal('coder'), decision: needsApproval });
    expect(added.view).toMatchObject({ status: 'pending', invocation: inv, reason: 'destructive', policyId: 'approval-destructive', decidedBy: null });
    expect(added.view.invocationHash).toBe(createHash('sha256').update(canonicalJson(inv)).digest('hex'));
    expect(added.view.invocationHash).toBe(invocationHash(JSON.parse(JSON.stringify(inv)) as CanonicalInvocation));
    expect(store.byInvocation(inv.invocation)?.view.id).toBe(added.view.id);
    expect(store.get(added.view.id)?.principal).toEqual(principal('coder'));
    expect(statSync(join(dir, APPROVALS_FILE)).mode & 0o777).toBe(0o600);
  });

  it('decides once: the nonce and the transition are one step, and a refused decision changes nothing', () => {
    const store = open(tempDir());
    const a = store.add({ invocation: invocation(), principal: principal('coder'), decision: needsApproval }).view;
    const n = nonce();
    const request = { id: a.id, verdict: 'approve' as const, approver: 'alice', invocationHash: a.invocationHash, nonce: n, nonceExpiresAtMs: Date.now() + 60_000 };
    // A wrong hash is refused, and its nonce is not spent: the same statement with the right hash still counts.
    expect(codeOf(() => store.decide({ ...request, invocationHash: '0'.repeat(64) }))).toBe('APPROVAL_HASH_MISMATCH');
    expect(store.get(a.id)?.view.status).toBe('pending');
    expect(store.decide(request).view).toMatchObject({ status: 'approved', decidedBy: 'alice' });
    expect(store.get(a.id)?.run).toBe('running');
    // The same statement again, and a new statement for the decided approval.
    expect(codeOf(() => store.decide(request))).toBe('APPROVAL_REPLAYED');
    expect(codeOf(() => store.decide({ ...request, verdict: 'deny', nonce: nonce() }))).toBe('APPROVAL_ALREADY_DECIDED');
    // A nonce is spent across approvals too.
    const b = store.add({ invocation: invocation(), principal: principal('coder'), decision: needsApproval }).view;
    expect(codeOf(() => store.decide({ ...request, id: b.id, invocationHash: b.invocationHash }))).toBe('APPROVAL_REPLAYED');
    expect(store.get(b.id)?.view.status).toBe('pending');
    expect(codeOf(() => store.decide({ ...request, id: 'apr_unknown', nonce: nonce() }))).toBe('APPROVAL_NOT_FOUND');
    store.finish(a.id, { kind: 'result', body: { id: 'x', status: 'ok' } });
    store.finish(a.id, { kind: 'result', body: { id: 'x', status: 'twice' } });
    expect(store.get(a.id)).toMatchObject({ run: 'done', outcome: { kind: 'result', body: { status: 'ok' } } });
  });

  it('lets exactly one of several connections racing to decide the same approval win', async () => {
    const dir = tempDir();
    const store = open(dir);
    const a = store.add({ invocation: invocation(), principal: principal('coder'), decision: needsApproval }).view;
    const contenders = 6;
    const gate = new SharedArrayBuffer(8);
    const counters = new Int32Array(gate);
    const results = Array.from({ length: contenders }, () => {
      const worker = new Worker(new URL('../../test/support/decide-worker.ts', import.meta.url), { workerData: { dataDir: dir, id: a.id, hash: a.invocationHash, nonce: nonce(), approver: 'alice', gate } });
      return new Promise<string>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    });
    // Release them together once every one has its connection open.
    while (Atomics.load(counters, 1) < contenders) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(counters, 0, 1);
    Atomics.notify(counters, 0);
    const outcomes = await Promise.all(results);
    expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'won').every((o) => o === 'APPROVAL_ALREADY_DECIDED')).toBe(true);
    expect(store.get(a.id)?.view.status).toBe('approved');
  });

  it('expires: reported as expired at once, refused to decide, and swept into events once', () => {
    let now = 1_000_000;
    const store = open(tempDir(), { ttlMs: 1000, now: () => now });
    const a = store.add({ invocation: invocation(), principal: principal('coder'), decision: needsApproval }).view;
    now += 1000;
    expect(store.get(a.id)?.view.status).toBe('expired');
    expect(codeOf(() => store.decide({ id: a.id, verdict: 'approve', approver: 'alice', invocationHash: a.invocationHash, nonce: nonce(), nonceExpiresAtMs: now + 1000 }))).toBe('APPROVAL_EXPIRED');
    expect(store.expireDue().map((s) => s.view.id)).toEqual([a.id]);
    expect(store.expireDue()).toEqual([]);
    expect(store.list({ status: 'expired' }).map((s) => s.view.id)).toEqual([a.id]);
    // The status filter is the reported status: a pending row past its time lists as expired, not pending.
    const b = store.add({ invocation: invocation(), principal: principal('coder'), decision: needsApproval }).view;
    expect(store.list({ status: 'pending' }).map((s) => s.view.id)).toEqual([b.id]);
    // The cordon_approvals_pending gauge reads this: a row past its time no longer counts.
    expect(store.pendingCount()).toBe(1);
    now += 1000;
    expect(store.list({ status: 'pending' })).toEqual([]);
    expect(store.pendingCount()).toBe(0);
    expect(store.list({ status: 'expired' }).map((s) => s.view.id).sort()).toEqual([a.id, b.id].sort());
    expect(store.list({ status: 'approved' })).toEqual([]);
  });

  it('refuses new approvals past the caps (per agent, then in all) with RATE_LIMITED; expired ones do not count', () => {
    let now = 1_000_000;
    const store = open(tempDir(), { ttlMs: 1000, maxPending: 3, maxPendingPerAgent: 2, now: () => now });
    const add = (agent: string) => store.add({ invocation: invocation(agent), principal: principal(agent), decision: needsApproval });
    add('a');
    add('a');
    const perAgent = (() => {
      try {
        add('a');
      } catch (err) {
        return err as CordonError;
      }
      return null;
    })();
    expect(perAgent).toMatchObject({ code: 'RATE_LIMITED', details: { quota: 'agent_approvals_pending', limit: 2 } });
    add('b');
    expect(codeOf(() => add('c'))).toBe('RATE_LIMITED');
    expect(store.list().length).toBe(3);
    now += 1000;
    expect(add('c').view.status).toBe('pending');
  });

  it('keeps pending approvals across a restart, and reports a run cut by a crash as failed, never running it again', () => {
    const dir = tempDir();
    const first = open(dir);
    const waiting = first.add({ invocation: invocation(), principal: principal('coder'), decision: needsApproval }).view;
    const cut = first.add({ invocation: invocation(), principal: principal('coder'), decision: needsApproval }).view;
    first.decide({ id: cut.id, verdict: 'approve', approver: 'alice', invocationHash: cut.invocationHash, nonce: nonce(), nonceExpiresAtMs: Date.now() + 60_000 });
    // While its runner (this process) lives, another opener of the data directory leaves the run alone.
    const beside = open(dir);
    expect(beside.get(cut.id)).toMatchObject({ run: 'running', outcome: null });
    first.close();
    // The runner that started it is gone (a crash): recorded as such, as the row would be after kill -9.
    const raw = new DatabaseSync(join(dir, APPROVALS_FILE));
    raw.prepare('UPDATE approvals SET runner = ? WHERE id = ?').run('00000000-0000-0000-0000-000000000000:1:1', cut.id);
    raw.close();
    const second = open(dir);
    expect(second.get(waiting.id)?.view).toEqual(waiting);
    expect(second.get(cut.id)).toMatchObject({ run: 'done', view: { status: 'approved' }, outcome: { kind: 'error', code: 'APPROVAL_RUN_INTERRUPTED' } });
  });

  it('reads an outcome whose error code this build does not know as INTERNAL, never as a result', () => {
    const dir = tempDir();
    const store = open(dir);
    const a = store.add({ invocation: invocation(), principal: principal('coder'), decision: needsApproval }).view;
    store.decide({ id: a.id, verdict: 'approve', approver: 'alice', invocationHash: a.invocationHash, nonce: nonce(), nonceExpiresAtMs: Date.now() + 60_000 });
    const raw = new DatabaseSync(join(dir, APPROVALS_FILE));
    raw.prepare('UPDATE approvals SET run = ?, outcome_json = ? WHERE id = ?').run('done', JSON.stringify({ kind: 'error', code: 'NOT_A_CODE', message: 'x', details: {} }), a.id);
    raw.close();
    expect(store.get(a.id)?.outcome).toMatchObject({ kind: 'error', code: 'INTERNAL' });
  });
});
