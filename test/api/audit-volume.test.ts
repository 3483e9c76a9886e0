import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/audit-sink.ts';
import { makeTestAgent, makeTestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';

// Audit volume: one client (or one agent) cannot write the audit log at line rate with
// refusals, yet every refusal is still counted. Each test owns its server: counts are
// written when a window closes or the server shuts down.
const coder = makeTestAgent('coder', ['coding']);
const bearer = (agent = coder) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`;

async function withServer(overrides: Record<string, unknown>, run: (server: TestServer) => Promise<void>): Promise<AuditRecord[]> {
  const env = makeTestEnv([coder], overrides);
  const server = await startTestServer(env.config);
  try {
    await run(server);
  } finally {
    await server.close();
    env.cleanup();
  }
  return server.audit.records;
}

const sumOf = (records: AuditRecord[]) => records.reduce((n, r) => n + (r.count ?? 1), 0);

async function invoke(server: TestServer, authorization: string | undefined, source = '1') {
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source } }),
  });
  await res.body.dump();
  return res.statusCode;
}

describe('failed authentication in the audit log', () => {
  it('1,000 bad-token requests from one client are a handful of records that count 1,000, naming the source (regression: one line each)', async () => {
    let good = 0;
    // A window longer than the test, so the count of records does not depend on machine speed.
    const records = await withServer({ audit: { repeatWindowMs: 600_000 } }, async (server) => {
      for (let i = 0; i < 1000; i++) {
        expect(await invoke(server, i % 2 === 0 ? 'Bearer not.a.token' : undefined)).toBe(401);
        // A good agent's calls in between are still each recorded.
        if (i % 250 === 0) {
          expect(await invoke(server, bearer(), `${i}`)).toBe(200);
          good++;
        }
      }
    });
    const auth = records.filter((r) => r.kind === 'auth');
    // Per reason: the first, written at once, and one counted record at shutdown.
    expect(auth).toHaveLength(4);
    expect(sumOf(auth)).toBe(1000);
    expect(sumOf(auth.filter((r) => r.outcome === 'AUTH_INVALID_TOKEN:malformed'))).toBe(500);
    expect(sumOf(auth.filter((r) => r.outcome === 'AUTH_MISSING_TOKEN:missing'))).toBe(500);
    for (const r of auth) expect(r.source).toBe('127.0.0.1');
    const counted = auth.filter((r) => (r.count ?? 1) > 1);
    expect(counted.length).toBeGreaterThan(0);
    for (const r of counted) expect(Date.parse(r.firstAt ?? '') <= Date.parse(r.lastAt ?? '')).toBe(true);
    // Each good call is two records: `started` before it ran, then its result.
    const calls = records.filter((r) => r.kind === 'invocation');
    expect(calls.map((r) => r.outcome)).toEqual(Array.from({ length: good }, () => ['started', 'ok']).flat());
    for (const r of calls) expect(r).toMatchObject({ agent: 'coder', decision: { result: 'allow' } });
  }, 60_000);

  it('writes every failure when counting is off (audit.repeatWindowMs: 0)', async () => {
    const records = await withServer({ audit: { repeatWindowMs: 0 } }, async (server) => {
      for (let i = 0; i < 20; i++) expect(await invoke(server, 'Bearer not.a.token')).toBe(401);
    });
    expect(records.filter((r) => r.kind === 'auth')).toHaveLength(20);
  });
});

describe('RATE_LIMITED refusals of one agent in the audit log', () => {
  it('are counted per agent and quota, and each keeps the decision that allowed it', async () => {
    const records = await withServer({ audit: { repeatWindowMs: 600_000 }, sandbox: { maxSessionsPerAgent: 1, isolate: { hosts: 1 } } }, async (server) => {
      const create = async () => {
        const res = await request(`${server.url}/v1/sandboxes`, { method: 'POST', headers: { authorization: bearer(), 'content-type': 'application/json' }, body: '{"profile":"js"}' });
        await res.body.dump();
        return res.statusCode;
      };
      expect(await create()).toBe(201);
      for (let i = 0; i < 200; i++) expect(await create()).toBe(429);
    });
    const limited = records.filter((r) => r.outcome === 'RATE_LIMITED');
    expect(limited).toHaveLength(2);
    expect(sumOf(limited)).toBe(200);
    for (const r of limited) expect(r).toMatchObject({ kind: 'sandbox', agent: 'coder', action: 'sandbox.create', decision: { result: 'allow' } });
    expect(records.filter((r) => r.kind === 'sandbox' && r.outcome === 'created')).toHaveLength(1);
  }, 60_000);
});

describe('raw inputs in records (audit.recordInput)', () => {
  const token = `ghp_${'a1B2'.repeat(9)}`;
  const inputs = (records: AuditRecord[]) => records.filter((r) => r.kind === 'invocation').map((r) => ('input' in r ? r.input : 'inputOmitted' in r ? r.inputOmitted : 'digest only'));

  it('keeps only the digest by default', async () => {
    const records = await withServer({}, async (server) => {
      expect(await invoke(server, bearer(), '"plain"')).toBe(200);
    });
    expect(inputs(records)).toEqual(['digest only', 'digest only']);
  });

  it('when on, keeps the input redacted like every record, and only the digest of one over 64 KiB', async () => {
    const big = `"${'x'.repeat(70 * 1024)}"`;
    const records = await withServer({ audit: { recordInput: true } }, async (server) => {
      expect(await invoke(server, bearer(), `"${token}"`)).toBe(200);
      expect(await invoke(server, bearer(), big)).toBe(200);
    });
    const kept = inputs(records);
    // Each call: its started record, then its result.
    expect(kept).toHaveLength(4);
    expect(kept.slice(0, 2)).toEqual([
      { language: 'javascript', source: expect.not.stringContaining('ghp_') as string },
      { language: 'javascript', source: expect.not.stringContaining('ghp_') as string },
    ]);
    expect(JSON.stringify(records)).not.toContain(token);
    expect(kept.slice(2)).toEqual(['larger than 65536 bytes of JSON', 'larger than 65536 bytes of JSON']);
    expect(records.filter((r) => r.kind === 'invocation').every((r) => /^[0-9a-f]{64}$/.test(r.inputSha256 ?? ''))).toBe(true);
  });
});
