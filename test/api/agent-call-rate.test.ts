import { request } from 'undici';
import { expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/audit-sink.ts';
import { makeTestAgent, makeTestEnv } from '../support/test-config.ts';
import { startTestServer } from '../support/test-server.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';

// Issue 8, item 7: slots and the queue bound the calls that run, not the ones that are denied.
// An agent with no grants could start denied calls at line rate, each a decision and an audit
// record. Each agent has a share of call starts (calls.perSecondPerAgent, burstPerAgent).
const coder = makeTestAgent('coder', ['coding']);
const stranger = makeTestAgent('stranger', []);
const PER_SECOND = 20;
const BURST = 40;

it('an agent starting denied calls at line rate gets 429 agent_call_rate past its share; another agent is served; the audit log counts the 429s', async () => {
  const env = makeTestEnv([coder, stranger], { calls: { perSecondPerAgent: PER_SECOND, burstPerAgent: BURST }, audit: { repeatWindowMs: 600_000 } });
  const server = await startTestServer(env.config);
  const statuses = new Map<number, number>();
  let limited: { retryAfter: unknown; error: { code: string; details: Record<string, unknown> } } | undefined;
  let neighbour: number;
  let elapsedSec: number;
  try {
    const call = async (agent: typeof coder) => {
      const res = await request(`${server.url}/v1/invocations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '1 + 1' } }),
      });
      const json = (await res.body.json()) as { error: { code: string; details: Record<string, unknown> } };
      return { status: res.statusCode, retryAfter: res.headers['retry-after'], json };
    };
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 1000) {
          next++;
          const r = await call(stranger);
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 429) limited = { retryAfter: r.retryAfter, error: r.json.error };
        }
      }),
    );
    elapsedSec = (performance.now() - started) / 1000;
    neighbour = (await call(coder)).status;
  } finally {
    await server.close();
    env.cleanup();
  }
  const denied = statuses.get(403) ?? 0;
  const refused = statuses.get(429) ?? 0;
  expect(denied + refused).toBe(1000);
  // Never more decisions than the bucket holds plus what it refilled meanwhile.
  expect(denied).toBeLessThanOrEqual(BURST + Math.ceil(PER_SECOND * elapsedSec) + 1);
  expect(refused).toBeGreaterThan(0);
  expect(limited?.error).toMatchObject({ code: 'RATE_LIMITED', details: { quota: 'agent_call_rate' } });
  expect(Number(limited?.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(neighbour).toBe(200);

  const strangers = server.audit.records.filter((r: AuditRecord) => r.kind === 'invocation' && r.agent === 'stranger');
  const sum = (rs: AuditRecord[]) => rs.reduce((n, r) => n + (r.count ?? 1), 0);
  // Every decision is one record; the refusals are a couple of counted records.
  expect(strangers.filter((r) => r.outcome === 'POLICY_DENIED')).toHaveLength(denied);
  const rateRecords = strangers.filter((r) => r.outcome === 'RATE_LIMITED');
  expect(rateRecords.length).toBeLessThanOrEqual(2);
  expect(sum(rateRecords)).toBe(refused);
});
