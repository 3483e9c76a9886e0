import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunnerApi } from '../../src/api/runner-api.ts';
import { verifyReceipt } from '../../src/audit/receipt.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { auditVerifierKey } from '../../src/runner/audit-admin.ts';
import { createRuntime, type Runtime } from '../../src/runner/runtime.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';

// In process (app.inject), with the real audit log, checkpointer and receipt index under a
// temporary data directory: the receipt a client gets verifies with `cordon audit key`'s key alone.
let env: TestEnv;
let runtime: Runtime;
let app: FastifyInstance;
const coder = makeTestAgent('coder', ['coding']);
const other = makeTestAgent('other', ['coding']);

beforeAll(async () => {
  env = makeTestEnv([coder, other], { audit: { checkpointEvery: 1000 } });
  runtime = createRuntime(env.config, { logger: silentLogger });
  app = createRunnerApi({ runner: runtime.runner, tokens: runtime.tokens, receipts: runtime.receipts, maxWaitMs: env.config.approvals.maxWaitMs, logger: silentLogger, bodyLimitBytes: 1024 * 1024, requestTimeoutMs: 60_000, unreadBody: { maxBytes: 1024 * 1024, maxMs: 1000 } });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await runtime?.close();
  env?.cleanup();
});

const bearer = (agent = coder) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`;
const invoke = async (source: string, agent = coder) => {
  const res = await app.inject({ method: 'POST', url: '/v1/invocations', headers: { authorization: bearer(agent), 'content-type': 'application/json' }, payload: JSON.stringify({ tool: 'code', input: { language: 'javascript', source } }) });
  return res.json<{ id: string; status: string }>();
};
const receipt = (id: string, authorization: string | null = bearer()) => app.inject({ method: 'GET', url: `/v1/invocations/${id}/receipt`, headers: authorization === null ? {} : { authorization } });

describe('GET /v1/invocations/:id/receipt', () => {
  it('gives the caller a receipt of its call that verifies with Cordon\'s audit key alone', async () => {
    const call = await invoke('6 * 7');
    expect(call.id).toMatch(/^inv_/);
    const res = await receipt(call.id);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ record: Record<string, unknown>; checkpoint: string; proof: { leafIndex: number; treeSize: number; path: string[] }; verifierKey: string }>();
    expect(body.record).toMatchObject({ kind: 'invocation', invocation: call.id, agent: 'coder', user: null, tool: 'code', outcome: 'ok', decision: { result: 'allow' } });
    const key = auditVerifierKey(env.config);
    expect(body.verifierKey).toBe(key);
    expect(verifyReceipt(body, key)).toMatchObject({ ok: true, checkpoint: { origin: 'cordon.local/audit' } });
    expect(body.proof.leafIndex).toBe((body.record.seq as number) - 1);
  });

  it('gives a receipt for a call whose code failed too: the record says what happened', async () => {
    const call = await invoke('throw new Error("x")');
    const res = await receipt(call.id);
    expect(res.statusCode).toBe(200);
    expect(verifyReceipt(res.json(), auditVerifierKey(env.config)).ok).toBe(true);
  });

  it('answers another agent 404, exactly as for an id that does not exist', async () => {
    const call = await invoke('1');
    const theirs = await receipt(call.id, bearer(other));
    const unknown = await receipt('inv_00000000000000000000000000', bearer(other));
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    // Same message shape: only the id the caller sent differs.
    expect(theirs.json<{ error: { message: string } }>().error.message.replace(call.id, 'X')).toBe(unknown.json<{ error: { message: string } }>().error.message.replace('inv_00000000000000000000000000', 'X'));
  });

  it.each([
    ['a malformed id', 'inv_../../etc'],
    ['another prefix', 'sbx_0000000000000000000000000'],
    ['an overlong id', `inv_${'a'.repeat(90)}`],
    ['a percent-encoded NUL', 'inv_%00'],
  ])('answers 404 for %s', async (_what, id) => {
    const res = await receipt(id);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('needs a valid token, and only GET', async () => {
    expect((await receipt('inv_00000000000000000000000000', null)).statusCode).toBe(401);
    expect((await receipt('inv_00000000000000000000000000', 'Bearer nope')).statusCode).toBe(401);
    const post = await app.inject({ method: 'POST', url: '/v1/invocations/inv_00000000000000000000000000/receipt', headers: { authorization: bearer() } });
    expect(post.statusCode).toBe(405);
  });
});
