import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// Every shared pool has a share per agent: one agent holding all it may hold leaves the rest
// for the others. Each case has its own agents, so no case depends on another's leftovers.
const greedy = makeTestAgent('greedy', ['coding']);
const polite = makeTestAgent('polite', ['coding']);
const leaver = makeTestAgent('leaver', ['coding']);
const hoarder = makeTestAgent('hoarder', ['coding']);
const neighbour = makeTestAgent('neighbour', ['coding']);
// No group: the shipped policies deny every call it makes.
const stranger = makeTestAgent('stranger', []);
let env: TestEnv;
let server: TestServer;

beforeAll(async () => {
  env = makeTestEnv([greedy, polite, leaver, hoarder, neighbour, stranger], {
    // Two slots and two queue places in all: by default an agent gets one of each.
    sandbox: { isolate: { maxConcurrent: 2, maxQueued: 2, hosts: 1, warmIsolatesPerHost: 0 } },
    sessions: { maxOpen: 1000, maxOpenPerAgent: 3 },
    // The share of call starts is tested on its own (agent-call-rate.test.ts); here 10,000 denied calls must all be decided.
    calls: { perSecondPerAgent: 1_000_000, burstPerAgent: 1_000_000 },
  });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

const bearer = (agent: TestAgent) => `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id, 'cordon', 300))}`;

interface Answer {
  status: number;
  json: { status?: string; output?: { value?: unknown }; error?: { code: string; message: string; details: Record<string, unknown> } };
}

async function invoke(auth: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Answer> {
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Answer['json'] };
}

const code = (source: string, timeoutMs = 60_000) => ({ tool: 'code', input: { language: 'javascript', source, timeoutMs } });

async function health(): Promise<Record<string, number>> {
  const res = await request(`${server.url}/healthz`);
  return (await res.body.json()) as Record<string, number>;
}

/** Polls /healthz until `ok` holds (by count of polls, not by time). */
async function until(ok: (h: Record<string, number>) => boolean): Promise<Record<string, number>> {
  for (let i = 0; i < 2000; i++) {
    const h = await health();
    if (ok(h)) return h;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never reached: ${JSON.stringify(await health())}`);
}

/** A call that runs until its client goes away; the returned abort() is the client leaving. */
function hold(agent: TestAgent): { answer: Promise<Answer | Error>; abort: () => void } {
  const controller = new AbortController();
  const answer = invoke(bearer(agent), code('while (true) {}'), controller.signal).catch((err: unknown) => err as Error);
  return { answer, abort: () => controller.abort() };
}

/** Each call's final outcome (a call that ran also has its `started` record before it). */
const outcomesOf = (agent: string) => server.audit.records.filter((r) => r.kind === 'invocation' && r.agent === agent && r.outcome !== 'started').map((r) => r.outcome);

describe('per-agent quotas', () => {
  it('an agent holding its share of slots and queue gets 429 naming the quota, and another agent still runs', async () => {
    const running = hold(greedy);
    await until((h) => h.active === 1);
    const queued = hold(greedy);
    await until((h) => h.queued === 1);
    const refused = await invoke(bearer(greedy), code('1'));
    expect(refused.status).toBe(429);
    expect(refused.json.error?.details.quota).toBe('agent_queue');
    expect(refused.json.error?.message).toContain('maxQueuedPerAgent');
    expect(refused.json.error?.details.retryAfterSec).toBe(1);
    // The other agent's call runs at once, though greedy has calls waiting.
    const other = await invoke(bearer(polite), code('2 + 2'));
    expect([other.status, other.json.output?.value]).toEqual([200, 4]);
    queued.abort();
    running.abort();
    await Promise.all([queued.answer, running.answer]);
    await until((h) => h.active === 0 && h.queued === 0);
  });

  it('a client that goes away frees its slot: a queued call leaves the queue, a running one is stopped, both recorded as cancelled', async () => {
    const first = hold(leaver);
    await until((h) => h.active === 1);
    const waiting = hold(leaver);
    await until((h) => h.queued === 1);
    waiting.abort();
    await until((h) => h.queued === 0);
    first.abort();
    // leaver's share is one slot: this call runs only once the first one has stopped. Without
    // cancellation it would wait for the first call's 60 s limit, and that call would say timeout.
    const next = await invoke(bearer(leaver), code('2 + 2'));
    expect([next.status, next.json.output?.value]).toEqual([200, 4]);
    expect(outcomesOf('leaver')).toEqual(['cancelled', 'cancelled', 'ok']);
    // The host that ran the stopped call is still there for the next one.
    expect((await health()).active).toBe(0);
  });

  it('opens no session for a denied call: 10,000 denied calls leave the table as it was, and other agents open theirs', async () => {
    const before = (await health()).callSessions ?? -1;
    const auth = bearer(stranger);
    let next = 0;
    const statuses = new Map<number, number>();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 10_000) {
          const i = next++;
          const res = await request(`${server.url}/v1/invocations`, {
            method: 'POST',
            headers: { authorization: auth, 'content-type': 'application/json' },
            body: JSON.stringify({ ...code('1'), session: `s-${i}` }),
          });
          await res.body.dump();
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        }
      }),
    );
    expect(Object.fromEntries(statuses)).toEqual({ 403: 10_000 });
    expect((await health()).callSessions).toBe(before);
    const allowed = await invoke(bearer(polite), { ...code('1'), session: 'after-the-flood' });
    expect(allowed.status).toBe(200);
    expect((await health()).callSessions).toBe(before + 1);
  }, 120_000);

  it('an agent at its session share gets 429 agent_sessions while another agent opens one', async () => {
    for (const s of ['a', 'b', 'c']) expect((await invoke(bearer(hoarder), { ...code('1'), session: s })).status).toBe(200);
    const refused = await invoke(bearer(hoarder), { ...code('1'), session: 'd' });
    expect(refused.status).toBe(429);
    expect(refused.json.error?.details.quota).toBe('agent_sessions');
    expect(refused.json.error?.message).toContain('maxOpenPerAgent');
    // Its open sessions still serve it, and another agent opens its own.
    expect((await invoke(bearer(hoarder), { ...code('1'), session: 'a' })).status).toBe(200);
    expect((await invoke(bearer(neighbour), { ...code('1'), session: 'd' })).status).toBe(200);
  });
});
