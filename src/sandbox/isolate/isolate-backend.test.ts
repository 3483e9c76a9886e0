import { afterAll, describe, expect, it } from 'vitest';
import type { CodeRunRequest } from '../index.ts';
import { createTestIsolateBackend, runOnce } from '../../../test/support/isolate-sandbox.ts';

const backend = createTestIsolateBackend();
afterAll(() => backend.close());

const run = (source: string, extra: Partial<CodeRunRequest> = {}) => runOnce(backend, source, extra);

describe('isolate backend', () => {
  it('returns the completion value as JSON', async () => {
    await expect(run('1+1')).resolves.toMatchObject({ status: 'ok', value: 2 });
    await expect(run('({a: [1, "x", null]})')).resolves.toMatchObject({ status: 'ok', value: { a: [1, 'x', null] } });
    const r = await run('undefined');
    expect(r.status).toBe('ok');
    expect(r).not.toHaveProperty('value');
  });

  it('awaits a returned promise', async () => {
    await expect(run('(async () => { await null; return 7 })()')).resolves.toMatchObject({ status: 'ok', value: 7 });
  });

  it('captures console output per stream', async () => {
    const r = await run('console.log("a", 1, {b: 2}); console.info("i"); console.warn("w"); console.error(new TypeError("t")); 0');
    expect(r.stdout).toBe('a 1 {"b":2}\ni\n');
    expect(r.stderr).toBe('w\nTypeError: t\n');
    expect(r.truncated).toBe(false);
  });

  it('caps output and says so', async () => {
    const r = await run('for (let i = 0; i < 1000; i++) console.log("0123456789"); "done"');
    expect(r.status).toBe('ok');
    expect(r.value).toBe('done');
    expect(Buffer.byteLength(r.stdout)).toBeLessThanOrEqual(1024);
    expect(r.stdout.startsWith('0123456789\n')).toBe(true);
    expect(r.truncated).toBe(true);
  });

  it('omits a result value over the result limit and marks it truncated', async () => {
    const r = await run('"x".repeat(10000)');
    expect(r.status).toBe('ok');
    expect(r).not.toHaveProperty('value');
    expect(r.truncated).toBe(true);
  });

  it('reports an uncaught exception as status error with the sandbox-side message', async () => {
    await expect(run('throw new RangeError("nope")')).resolves.toMatchObject({ status: 'error', error: { name: 'RangeError', message: 'nope' } });
    await expect(run('throw "plain"')).resolves.toMatchObject({ status: 'error', error: { message: 'plain' } });
    await expect(run('(async () => { throw new Error("later") })()')).resolves.toMatchObject({ status: 'error', error: { message: 'later' } });
    await expect(run('this is not javascript')).resolves.toMatchObject({ status: 'error', error: { name: 'SyntaxError' } });
  });

  it('an exception whose message getter throws still reports', async () => {
    const r = await run('const e = new Error(); Object.defineProperty(e, "message", { get() { throw 1 } }); throw e');
    expect(r.status).toBe('error');
  });

  it('a value that is not JSON is an error, not a crash', async () => {
    await expect(run('10n')).resolves.toMatchObject({ status: 'error', error: { name: 'ResultError' } });
    await expect(run('const o = {}; o.o = o; o')).resolves.toMatchObject({ status: 'error', error: { name: 'ResultError' } });
  });

  it('reports a result nested too deep for the host as a ResultError (regression: the CLI crashed printing it)', async () => {
    for (const depth of [300, 1500]) {
      const r = await run(`let a = []; for (let i = 0; i < ${depth}; i++) a = [a]; a`);
      expect(r.status, String(depth)).toBe('error');
      expect(r.error?.name).toBe('ResultError');
    }
    await expect(run('let a = []; for (let i = 0; i < 200; i++) a = [a]; a')).resolves.toMatchObject({ status: 'ok' });
  });

  it.each([
    ['require', "require('fs')"],
    ['process', 'process.exit()'],
    ['the Function constructor', "this.constructor.constructor('return process')()"],
    ['dynamic import', "import('fs')"],
    ['fetch', "fetch('http://127.0.0.1/')"],
    ['setTimeout', 'setTimeout(() => {}, 1)'],
  ])('has no %s', async (_name, source) => {
    const r = await run(source);
    expect(r.status).toBe('error');
  });

  it('stops an infinite loop with status timeout shortly after the limit', async () => {
    const r = await run('while (true) {}', { timeoutMs: 200, cpuTimeMs: 200 });
    expect(r).toMatchObject({ status: 'timeout', error: { message: 'wall-clock limit of 200 ms exceeded' } });
    // The limit is a floor: the code got at least its whole budget.
    expect(r.durationMs).toBeGreaterThanOrEqual(190);
  });

  it('stops a promise that never settles', async () => {
    await expect(run('new Promise(() => {})', { timeoutMs: 200, cpuTimeMs: 200 })).resolves.toMatchObject({ status: 'timeout' });
  });

  it('stops an endless microtask loop', async () => {
    await expect(run('(async () => { for (;;) await null })()', { timeoutMs: 200, cpuTimeMs: 200 })).resolves.toMatchObject({ status: 'timeout' });
  });

  it('stops code that exceeds its CPU time before its wall-clock limit', async () => {
    const r = await run('while (true) {}', { timeoutMs: 20_000, cpuTimeMs: 150 });
    expect(r).toMatchObject({ status: 'timeout', error: { name: 'TimeoutError', message: 'CPU time limit of 150 ms exceeded' } });
  });

  it('keeps output written before a timeout', async () => {
    const r = await run('console.log("before"); while (true) {}', { timeoutMs: 200, cpuTimeMs: 200 });
    expect(r.status).toBe('timeout');
    expect(r.stdout).toBe('before\n');
  });

  it('reports a memory bomb as status oom', async () => {
    const r = await run('const a = []; for (;;) a.push(new Array(1e6).fill(1))', { memoryMb: 32, timeoutMs: 10_000, cpuTimeMs: 10_000 });
    expect(r.status).toBe('oom');
  });

  it('reports a typed-array memory bomb as oom or a refused allocation, never a crash', async () => {
    const r = await run('const a = []; for (;;) a.push(new Uint8Array(16 * 1024 * 1024))', { memoryMb: 32, timeoutMs: 10_000, cpuTimeMs: 10_000 });
    expect(['oom', 'error']).toContain(r.status);
  });

  it('gives every run a fresh isolate: globals do not survive', async () => {
    await run('globalThis.leak = 42; 1');
    await expect(run('typeof leak')).resolves.toMatchObject({ value: 'undefined' });
  });

  it('reports results the tool code tries to forge by patching built-ins', async () => {
    const r = await run('JSON.stringify = () => "{\\"forged\\":true}"; String = () => "x"; 5');
    expect(r).toMatchObject({ status: 'ok', value: 5 });
  });

  it('keeps working after timeouts and oom', async () => {
    await run('while (true) {}', { timeoutMs: 100, cpuTimeMs: 100 });
    await run('const a = []; for (;;) a.push(new Array(1e6).fill(1))', { memoryMb: 16, timeoutMs: 10_000, cpuTimeMs: 10_000 });
    await expect(run('2*21')).resolves.toMatchObject({ status: 'ok', value: 42 });
  });
});

describe('isolate concurrency limit', () => {
  it('queues up to the limit and refuses beyond it with RATE_LIMITED', async () => {
    const small = createTestIsolateBackend({ maxConcurrent: 1, maxQueued: 1, warmIsolatesPerHost: 0 });
    try {
      const slow = { memoryMb: 16, timeoutMs: 300, cpuTimeMs: 300 };
      const first = runOnce(small, 'while (true) {}', slow);
      const second = runOnce(small, 'while (true) {}', slow);
      await expect(runOnce(small, 'while (true) {}', slow)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      await expect(first).resolves.toMatchObject({ status: 'timeout' });
      await expect(second).resolves.toMatchObject({ status: 'timeout' });
      await expect(runOnce(small, '1', slow)).resolves.toMatchObject({ status: 'ok' });
    } finally {
      await small.close();
    }
  });
});
