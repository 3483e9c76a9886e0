import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoopbackUpstream } from '../support/loopback-fixture.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { startUpstreamEgress, type UpstreamEgress } from '../support/upstream-egress.ts';

// Programs an attacker would send, against one real server. Each call must end as a result
// (ok/error/timeout/oom) for its own caller, within its limit; the server keeps answering
// /healthz; another agent's call succeeds while a hostile one takes its own host down.
const hostile = makeTestAgent('hostile', ['coding']);
const good = makeTestAgent('good', ['coding']);
let env: TestEnv;
let server: TestServer;
let up: UpstreamEgress;
let upstream: LoopbackUpstream;

beforeAll(async () => {
  up = await startUpstreamEgress();
  upstream = up.upstream;
  env = makeTestEnv([hostile, good], {
    policyDir: up.config.policyDir,
    egress: up.config.egress,
    // Small hosts, so a memory bomb meets the OS cap quickly.
    sandbox: { isolate: { hostMemoryMb: 640, maxHostsPerAgent: 2, hosts: 2 } },
  });
  server = await startTestServer(env.config, up.serverOptions);
});

afterAll(async () => {
  await server?.close();
  await up?.close();
  env?.cleanup();
});

interface Answer {
  status: number;
  wallMs: number;
  json: { status?: string; output?: { status: string; value?: unknown; error?: { name: string; message: string }; stdout: string; stderr: string; truncated: boolean; durationMs: number }; error?: { code: string; details?: Record<string, unknown> } };
}

async function runAs(agent: TestAgent, source: string, input: Record<string, unknown> = {}): Promise<Answer> {
  const t0 = performance.now();
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source, ...input } }),
  });
  const json = (await res.body.json()) as Answer['json'];
  return { status: res.statusCode, wallMs: performance.now() - t0, json };
}

/** Polls /healthz until stopped; every answer must be 200. */
function watchHealth() {
  let stop = false;
  let answers = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (!stop) {
      try {
        const res = await request(`${server.url}/healthz`);
        await res.body.dump();
        if (res.statusCode === 200) answers++;
        else failures.push(String(res.statusCode));
      } catch (err) {
        failures.push(String(err));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async end() {
      stop = true;
      await loop;
      return { answers, failures };
    },
  };
}

const LIMIT_MS = 1500;

type Case = readonly [name: string, source: string, allowed: readonly string[], message?: RegExp];
const CASES: readonly Case[] = [
  ['one huge array, filled by a builtin that cannot be interrupted', 'new Array(2 ** 28).fill(1).length', ['timeout', 'oom', 'error']],
  ['an array grown past the heap', 'const a = []; for (;;) a.push(new Array(1e6).fill(1.5))', ['oom']],
  ['an array length V8 refuses', 'new Array(2 ** 32)', ['error'], /Invalid array length/],
  ['typed arrays past the heap', 'const a = []; for (;;) a.push(new Float64Array(1 << 20))', ['oom', 'error']],
  ['one 2 GiB ArrayBuffer', 'new ArrayBuffer(2 ** 31).byteLength', ['error', 'oom']],
  ['a string doubled forever', 'let s = "x"; for (;;) s += s', ['error', 'oom']],
  ['a string repeated past the heap', '"x".repeat(2 ** 29).length', ['error', 'oom']],
  ['many large strings kept alive', 'const k = []; for (;;) k.push("y".repeat(1 << 20) + k.length)', ['oom', 'error', 'timeout']],
  ['WebAssembly memory outside the heap', 'new WebAssembly.Memory({ initial: 1, maximum: 65536 }).grow(60000)', ['error'], /WebAssembly is not defined/],
  ['source nested 100k deep', '['.repeat(100_000), ['error']],
  ['top-level-await source nested 100k deep', 'await 1;\n' + '('.repeat(100_000), ['error'], /nests too deeply|Unexpected|stack space|Maximum call stack/],
  ['a result nested 400k deep', 'let a = []; for (let i = 0; i < 400000; i++) a = [a]; a', ['error']],
  ['unbounded recursion', 'function f() { return f() + 1 } f()', ['error'], /call stack/],
  ['an endless microtask loop', '(async () => { for (;;) await null })()', ['timeout']],
  ['a promise-chain flood', 'function f() { Promise.resolve().then(f); Promise.resolve().then(f) } f(); new Promise(() => {})', ['timeout', 'oom']],
  ['a sort that never finishes comparing', 'const a = Array.from({ length: 2e5 }, (_, i) => i); a.sort(() => { for (let i = 0; i < 1e5; i++); return -1 }).length', ['timeout']],
  ['a builtin join over a huge array', 'new Array(1e8).join("abc").length', ['ok', 'timeout', 'oom', 'error']],
  ['a regex that backtracks forever', '/^(a+)+$/.test("a".repeat(40) + "b")', ['timeout']],
  ['an output flood', 'for (;;) console.log("z".repeat(10000))', ['timeout']],
  ['a result far over its cap', '"r".repeat(5e7)', ['ok', 'oom', 'error']],
  ['a thrown getter that never returns', 'throw { get message() { for (;;); } }', ['timeout']],
  ['a 200 MB error message with a patched String.prototype.slice', 'String.prototype.slice = function () { return this + this }; throw new Error("m".repeat(2e8))', ['error', 'oom', 'timeout']],
  ['a patched JSON and a forged bootstrap answer', 'JSON.stringify = () => "[\\"ok\\",\\"{}\\"]"; Array.prototype.push = null; ({ a: 1 })', ['ok', 'error']],
  ['Atomics.wait on the isolate thread', 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1e9)', ['timeout', 'error']],
  ['fetch with a bad method', 'await fetch("http://up.test/", { method: "GE T" })', ['error'], /fetch: method must be/],
  ['fetch with a 200 kB URL', 'await fetch("http://up.test/" + "a".repeat(200000))', ['error'], /fetch: url must be/],
  ['fetch with 5000 headers', 'const h = {}; for (let i = 0; i < 5000; i++) h["x" + i] = "v"; await fetch("http://up.test/", { headers: h })', ['error'], /fetch: headers/],
  ['fetch with a body that is neither text nor bytes', 'await fetch("http://up.test/", { method: "POST", body: { a: 1 } })', ['error'], /fetch body must be/],
  ['fetch called with garbage', '(await fetch(Symbol("x"))).status', ['ok', 'error']],
  ['many fetches at once', 'await Promise.all(Array.from({ length: 200 }, () => fetch("http://up.test/").catch((e) => e.message))).then((r) => r.length)', ['ok', 'error', 'timeout']],
];

describe('hostile code against one server', () => {
  it.each(CASES.map(([name, source, allowed, message]) => ({ name, source, allowed, message })))('$name: answers as a result of its own call, in time', async ({ source, allowed, message }) => {
    const health = watchHealth();
    const limit = LIMIT_MS;
    const r = await runAs(hostile, source, { timeoutMs: LIMIT_MS });
    const { answers, failures } = await health.end();
    expect(failures).toEqual([]);
    expect(answers).toBeGreaterThan(0);
    // A sandbox's failure is a result (200), or at worst a retryable SANDBOX_FAILED for its own caller.
    if (r.status !== 200) expect(r.json.error).toMatchObject({ code: 'SANDBOX_FAILED', details: { retryable: true } });
    else expect(allowed).toContain(r.json.output?.status);
    if (r.status === 200) {
      const out = r.json.output!;
      // A timeout reports the limit it kept; how close to it the answer came is measured by
      // `make bench` (timeout_overrun_*), not asserted here: tests do not fail on timing.
      if (out.status === 'timeout') expect(out.error?.message).toContain(`${limit} ms`);
      expect(Buffer.byteLength(out.stdout) + Buffer.byteLength(out.stderr)).toBeLessThanOrEqual(64 * 1024);
      expect((out.error?.message ?? '').length).toBeLessThanOrEqual(4097);
      if (message !== undefined) expect(out.error?.message).toMatch(message);
    }
    // Generous on purpose: this catches a limit that is not kept at all (the review saw 17 s
    // against 5 s), not scheduling noise on a loaded machine.
    expect(r.wallMs).toBeLessThan(limit + 5000);
    // The server still runs code, for this agent too.
    expect((await runAs(hostile, '6 * 7')).json.output?.value).toBe(42);
  });

  it('a fetch error seen by tool code carries no host stack (no host file paths)', async () => {
    const r = await runAs(hostile, 'let out;\ntry { await fetch("http://up.test/", { method: "GE T" }) } catch (e) { out = [e.name, e.message, String(e.stack)] }\nout');
    const [name, message, stack] = r.json.output?.value as [string, string, string];
    expect(name).toBe('TypeError');
    expect(message).toMatch(/^fetch: method must be/);
    expect(stack).not.toMatch(/\.ts:|\/src\/|node:internal|file:\/\//);
  });

  it('a response larger than the isolate’s memory is refused, not copied in', async () => {
    const before = upstream.seen.length;
    const r = await runAs(hostile, `const res = await fetch("http://up.test:${upstream.port}/bytes?n=${4 * 1024 * 1024}"); [res.status, res.headers.get("x-cordon-error"), (await res.text()).length]`, { memoryMb: 8, timeoutMs: 5000 });
    expect(r.status).toBe(200);
    expect(upstream.seen.length).toBe(before + 1);
    // Cordon cut the body at a quarter of the isolate's 8 MB and answered with its own refusal.
    const [status, header, length] = r.json.output?.value as [number, string, number];
    expect(status).toBe(502);
    // 4 MiB is under the 5 MiB egress default: only the per-call cap (a quarter of the heap) refuses it.
    expect(header).toMatch(/response_too_large/);
    expect(length).toBeLessThan(4096);
  });

  it('a well-behaved call by another agent succeeds while a hostile one kills its host', async () => {
    const before = server.runtime.sandboxes.isolate.hostPids('hostile');
    const bomb = runAs(hostile, 'new Array(2 ** 28).fill(1).length', { timeoutMs: 3000 });
    const health = watchHealth();
    const calm: Answer[] = [];
    for (let i = 0; i < 10; i++) {
      calm.push(await runAs(good, `${i} * 2`));
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await bomb;
    const { failures } = await health.end();
    expect(failures).toEqual([]);
    expect(calm.map((c) => c.json.output?.value)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(['timeout', 'oom']).toContain(r.json.output?.status);
    // The hostile agent's host was ended; the good agent's hosts are a different set.
    const goodHosts = server.runtime.sandboxes.isolate.hostPids('good');
    expect(goodHosts.some((p) => before.includes(p))).toBe(false);
  });

  it('kill -9 of a host during a call: that call answers oom or SANDBOX_FAILED, the next call succeeds', async () => {
    const running = runAs(hostile, 'while (true) {}', { timeoutMs: 10_000 });
    let pids: number[] = [];
    for (let i = 0; i < 50 && pids.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      pids = server.runtime.sandboxes.isolate.hostPids('hostile');
    }
    // Let the call reach its host before the kill.
    await new Promise((r) => setTimeout(r, 300));
    // A spare of this agent's may retire on its own meanwhile (ESRCH); the call's own host must be killed.
    let killed = 0;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    expect(killed).toBeGreaterThan(0);
    // A call that was not killed would answer `timeout` after 10 s, which neither branch accepts.
    const r = await running;
    if (r.status === 200) expect(r.json.output?.status).toBe('oom');
    else expect(r.json.error).toMatchObject({ code: 'SANDBOX_FAILED', details: { retryable: true } });
    expect((await runAs(hostile, '1 + 1')).json.output?.value).toBe(2);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
