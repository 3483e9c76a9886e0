import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestApprover, signedDecision, signStatement, statementFor } from '../../test/support/approvers.ts';
import { canonicalJson } from '../audit/canonical-json.ts';
import { CordonError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { APPROVALS_FILE, openApprovalStore } from './approval-store.ts';
import { MAX_STATEMENT_LIFETIME_SEC, type ApprovalView, type CanonicalInvocation } from './approval-types.ts';
import { loadApprovers } from './approvers.ts';
import { MAX_CLOCK_SKEW_SEC, verifyDecision } from './verify-decision.ts';

// Every forgery an attacker on the operator channel could try, each refused with its own code.
const dir = mkdtempSync(join(tmpdir(), 'cordon-verify-'));
const store = openApprovalStore(dir, { ttlMs: 60_000, maxPending: 100, maxPendingPerAgent: 100 });
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const alice = makeTestApprover('alice');
const carol = makeTestApprover('carol');
const reviewer = makeTestApprover('reviewer');
const approvers = loadApprovers({
  approvers: [
    { name: 'alice', publicKey: alice.publicKeyPem, tools: ['file.*'] },
    { name: 'carol', publicKey: carol.publicKeyPem, tools: ['code'] },
    { name: 'reviewer', publicKey: reviewer.publicKeyPem, tools: ['*'], groups: ['ops'] },
  ],
});
const groupsByAgent: Record<string, string[]> = { coder: ['coding'], operator: ['ops'] };

function pending(agent = 'coder', tool = 'file.delete'): ApprovalView {
  const invocation: CanonicalInvocation = { invocation: newId('inv'), tool, input: { path: 'a.txt' }, agent, user: null, sandbox: null, profile: 'js', session: null, policyVersion: 'v1' };
  return store.add({ invocation, principal: { agent, user: null, tokenId: 't', expiresAt: 1, scope: null }, decision: { result: 'require_approval', reason: 'r', ruleId: 'p' } }).view;
}

const verifyAt = (body: unknown, now = Date.now()) =>
  verifyDecision(body, { approvers, lookup: (id) => store.get(id)?.view ?? null, principalGroups: (inv) => groupsByAgent[inv.agent] ?? [], nonceUsed: store.nonceUsed, now });

function refusal(body: unknown, now?: number): { code: string; reason?: unknown; field?: unknown } {
  try {
    verifyAt(body, now);
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    const e = err as CordonError;
    return { code: e.code, reason: e.details.reason, field: e.details.field };
  }
  return { code: 'accepted' };
}

describe('verifyDecision', () => {
  it('accepts a statement signed by a registered approver with the right to the call', () => {
    const a = pending();
    const verified = verifyAt(signedDecision(alice, a, 'approve'));
    expect(verified.approver.name).toBe('alice');
    expect(verified.approval.id).toBe(a.id);
    // An approver limited to groups decides calls of agents in them.
    expect(verifyAt(signedDecision(reviewer, pending('operator', 'code'), 'deny')).approver.name).toBe('reviewer');
  });

  it('refuses signatures that are not the named approver\'s over these exact bytes', () => {
    const a = pending();
    const honest = signedDecision(alice, a, 'approve');
    const other = generateKeyPairSync('ed25519').privateKey;
    expect(refusal({ statement: honest.statement })).toMatchObject({ code: 'INPUT_INVALID', field: '/signature' });
    expect(refusal({ ...honest, signature: '' })).toMatchObject({ code: 'INPUT_INVALID', field: '/signature' });
    expect(refusal({ ...honest, signature: `${honest.signature.slice(0, 85)}*` })).toMatchObject({ code: 'INPUT_INVALID', field: '/signature' });
    expect(refusal({ ...honest, signature: `${honest.signature}==` })).toMatchObject({ code: 'INPUT_INVALID', field: '/signature' });
    expect(refusal({ ...honest, signature: Buffer.from(honest.signature, 'base64url').subarray(0, 63).toString('base64url') })).toMatchObject({ code: 'INPUT_INVALID' });
    // Signed by a key that is not alice's, though it names alice.
    expect(refusal(signStatement(other, honest.statement))).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'bad_signature' });
    // Signed by carol (registered), naming alice.
    expect(refusal(signStatement(carol.privateKey, honest.statement))).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'bad_signature' });
    // Any field changed after signing.
    for (const change of [{ decision: 'deny' }, { exp: honest.statement.exp + 1 }, { iat: honest.statement.iat - 1 }, { nonce: statementFor(a, 'alice', 'approve').nonce }, { approvalId: pending().id }]) {
      expect(refusal({ ...honest, statement: { ...honest.statement, ...change } })).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'bad_signature' });
    }
    // The statement's JSON signed without the domain-separation line.
    const bare = sign(null, Buffer.from(canonicalJson(honest.statement)), alice.privateKey).toString('base64url');
    expect(refusal({ ...honest, signature: bare })).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'bad_signature' });
    // An approver nobody registered, signing with its own key.
    const mallory = makeTestApprover('mallory');
    expect(refusal(signedDecision(mallory, a, 'approve'))).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'unknown_approver' });
    expect(store.get(a.id)?.view.status).toBe('pending');
  });

  it('refuses statements outside their time bounds', () => {
    const a = pending();
    const now = Math.floor(Date.now() / 1000);
    expect(refusal(signedDecision(alice, a, 'approve', { iat: now - 100, exp: now }))).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'expired' });
    expect(refusal(signedDecision(alice, a, 'approve', { iat: now, exp: now + MAX_STATEMENT_LIFETIME_SEC + 1 }))).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'lifetime' });
    expect(refusal(signedDecision(alice, a, 'approve', { iat: now + 10, exp: now + 5 }))).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'lifetime' });
    expect(refusal(signedDecision(alice, a, 'approve', { iat: now + MAX_CLOCK_SKEW_SEC + 60, exp: now + MAX_CLOCK_SKEW_SEC + 120 }))).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID', reason: 'issued_in_future' });
    // A little skew is fine.
    expect(refusal(signedDecision(alice, a, 'approve', { iat: now + 5, exp: now + 60 }))).toMatchObject({ code: 'accepted' });
  });

  it('refuses an approver without the right to this call, a wrong hash, and an unknown approval', () => {
    const a = pending();
    expect(refusal(signedDecision(carol, a, 'approve'))).toMatchObject({ code: 'APPROVAL_NOT_PERMITTED' });
    // reviewer may decide any tool, but only for principals in group ops; coder is not.
    expect(refusal(signedDecision(reviewer, a, 'approve'))).toMatchObject({ code: 'APPROVAL_NOT_PERMITTED' });
    expect(refusal(signedDecision(alice, a, 'approve', { invocationHash: 'f'.repeat(64) }))).toMatchObject({ code: 'APPROVAL_HASH_MISMATCH' });
    expect(refusal(signedDecision(alice, { id: newId('apr'), invocationHash: a.invocationHash }, 'approve'))).toMatchObject({ code: 'APPROVAL_NOT_FOUND' });
    // Without a valid signature nothing about approvals is revealed: an unknown id reads as a bad signature.
    const unsigned = signStatement(generateKeyPairSync('ed25519').privateKey, statementFor({ id: newId('apr'), invocationHash: a.invocationHash }, 'alice', 'approve'));
    expect(refusal(unsigned)).toMatchObject({ code: 'APPROVAL_SIGNATURE_INVALID' });
  });

  it('refuses a statement for a call whose stored row was edited on disk (Cordon recomputes the hash)', () => {
    const a = pending();
    const raw = new DatabaseSync(join(dir, APPROVALS_FILE));
    const edited = { ...a.invocation, input: { path: 'everything' } };
    raw.prepare('UPDATE approvals SET invocation_json = ? WHERE id = ?').run(JSON.stringify(edited), a.id);
    raw.close();
    // The approver signs what the (edited) store shows, with the stored hash: refused.
    expect(refusal(signedDecision(alice, a, 'approve'))).toMatchObject({ code: 'APPROVAL_HASH_MISMATCH' });
  });

  it('refuses a second decision on a decided approval, and an expired approval', () => {
    const a = pending();
    const first = signedDecision(alice, a, 'deny');
    verifyAt(first);
    store.decide({ id: a.id, verdict: 'deny', approver: 'alice', invocationHash: a.invocationHash, nonce: first.statement.nonce, nonceExpiresAtMs: first.statement.exp * 1000 });
    expect(refusal(signedDecision(alice, a, 'approve'))).toMatchObject({ code: 'APPROVAL_ALREADY_DECIDED' });
    // The very statement that decided it, sent again: a replay.
    expect(refusal(first)).toMatchObject({ code: 'APPROVAL_REPLAYED' });
    // An approval whose time is up, with a statement still inside its own lifetime.
    let clock = Date.now();
    const timed = openApprovalStore(join(dir, 'timed'), { ttlMs: 1000, maxPending: 10, maxPendingPerAgent: 10, now: () => clock });
    try {
      const invocation: CanonicalInvocation = { ...a.invocation, invocation: newId('inv') };
      const b = timed.add({ invocation, principal: { agent: 'coder', user: null, tokenId: 't', expiresAt: 1, scope: null }, decision: { result: 'require_approval', reason: 'r', ruleId: 'p' } }).view;
      clock += 1000;
      const late = verifyDecision.bind(null, signedDecision(alice, b, 'approve'), { approvers, lookup: (id) => timed.get(id)?.view ?? null, principalGroups: () => [], nonceUsed: timed.nonceUsed, now: clock });
      expect(late).toThrow(expect.objectContaining({ code: 'APPROVAL_EXPIRED' }));
    } finally {
      timed.close();
    }
  });

  it('refuses malformed, oversized and hostile bodies, naming the field', () => {
    const a = pending();
    const good = signedDecision(alice, a, 'approve');
    const withStatement = (change: Record<string, unknown>) => ({ ...good, statement: { ...good.statement, ...change } });
    const cases: [unknown, string][] = [
      [null, '/'],
      ['{}', '/'],
      [[good], '/'],
      [{ ...good, extra: 1 }, '/extra'],
      [JSON.parse(`{"statement":${JSON.stringify(good.statement)},"signature":"${good.signature}","__proto__":{"admin":true}}`), '/__proto__'],
      [{ signature: good.signature }, '/statement'],
      [{ ...good, statement: 'approve' }, '/statement'],
      [withStatement({ role: 'admin' }), '/statement/role'],
      [{ ...good, statement: { ...good.statement, nonce: undefined } }, '/statement/nonce'],
      [withStatement({ approvalId: 'apr_../../etc' }), '/statement/approvalId'],
      [withStatement({ approvalId: `${a.id}x` }), '/statement/approvalId'],
      [withStatement({ invocationHash: a.invocationHash.toUpperCase() }), '/statement/invocationHash'],
      [withStatement({ invocationHash: `${a.invocationHash}00` }), '/statement/invocationHash'],
      [withStatement({ decision: 'APPROVE' }), '/statement/decision'],
      [withStatement({ decision: true }), '/statement/decision'],
      [withStatement({ approver: 'a'.repeat(10_000) }), '/statement/approver'],
      [withStatement({ approver: 'Alice' }), '/statement/approver'],
      [withStatement({ iat: 1.5 }), '/statement/iat'],
      [withStatement({ iat: '1700000000' }), '/statement/iat'],
      [withStatement({ exp: -1 }), '/statement/exp'],
      [withStatement({ exp: 2 ** 60 }), '/statement/exp'],
      [withStatement({ nonce: 'short' }), '/statement/nonce'],
      [withStatement({ nonce: 'A'.repeat(65) }), '/statement/nonce'],
      [withStatement({ nonce: 'AAAAAAAAAAAAAAAAAAAAA=' }), '/statement/nonce'],
      [withStatement({ nonce: 'AAAAAAAAAAAAAAAAAAAAAB' }), '/statement/nonce'],
      [{ ...good, signature: 42 }, '/signature'],
      [{ ...good, signature: 'A'.repeat(100_000) }, '/signature'],
    ];
    for (const [body, field] of cases) expect(refusal(body), JSON.stringify(body).slice(0, 120)).toMatchObject({ code: 'INPUT_INVALID', field });
    expect(store.get(a.id)?.view.status).toBe('pending');
  });
});

describe('loadApprovers', () => {
  it('refuses a key that is not an Ed25519 public key, naming the field', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const publicKey of ['not a key', rsa]) {
      expect(() => loadApprovers({ approvers: [{ name: 'ok', publicKey: alice.publicKeyPem, tools: ['*'] }, { name: 'bad', publicKey, tools: ['*'] }] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', details: expect.objectContaining({ field: '/approvals/approvers/1/publicKey' }) }));
    }
    expect(() => loadApprovers({ approvers: [{ name: 'bad', publicKeyFile: join(dir, 'missing.pem'), tools: ['*'] }] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', details: expect.objectContaining({ field: '/approvals/approvers/0/publicKeyFile' }) }));
  });

  it('matches tools by name, by `prefix.*` and by `*`, and groups against the agent or the user', () => {
    const list = loadApprovers({ approvers: [{ name: 'f', publicKey: alice.publicKeyPem, tools: ['file.*', 'code'] }, { name: 'g', publicKey: alice.publicKeyPem, tools: ['*'], groups: ['ops'] }] });
    const f = list.get('f');
    const g = list.get('g');
    expect([f?.mayDecide('file.delete', []), f?.mayDecide('code', []), f?.mayDecide('file', []), f?.mayDecide('filesystem.x', []), f?.mayDecide('code.x', [])]).toEqual([true, true, false, false, false]);
    expect([g?.mayDecide('anything', ['ops']), g?.mayDecide('anything', ['coding']), g?.mayDecide('anything', [])]).toEqual([true, false, false]);
  });
});
