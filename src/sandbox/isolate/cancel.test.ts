import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeRequest, createTestIsolateBackend, testIdentity } from '../../../test/support/isolate-sandbox.ts';
import type { IsolateBackend } from '../index.ts';

// A cancelled call (its client went away) ends its own isolate through the IPC 'cancel'
// message, as an overrun would, and nothing else: the host and its other calls live on.
let backend: IsolateBackend;
beforeAll(() => {
  backend = createTestIsolateBackend({ maxHostsPerAgent: 1, hosts: 0 });
});
afterAll(async () => {
  await backend.close();
});

const perCall = () => backend.create({ identity: testIdentity('canceller'), persistent: false, memoryMb: 64, egress: null });

describe('cancelling an isolate call', () => {
  it('stops a running call long before its limit; the same host runs the next call and a neighbour call on it finishes', async () => {
    const warm = await (await perCall()).run(codeRequest('1'));
    expect(warm.status).toBe('ok');
    const [pid] = backend.hostPids('canceller');
    const abort = new AbortController();
    const spinning = (await perCall()).run(codeRequest('while (true) {}', { timeoutMs: 60_000, cpuTimeMs: 60_000, signal: abort.signal }));
    // A neighbour on the same host, started before the cancel and finishing after it.
    const neighbour = (await perCall()).run(codeRequest('(async () => { for (let i = 0; i < 3; i++) await null; return 7 })()'));
    abort.abort();
    await expect(spinning).rejects.toMatchObject({ code: 'CALL_CANCELLED' });
    expect((await neighbour).value).toBe(7);
    expect((await (await perCall()).run(codeRequest('2 + 2'))).value).toBe(4);
    expect(backend.hostPids('canceller')).toEqual([pid]);
  });

  it('ends a session sandbox whose call was cancelled, as an overrun does', async () => {
    const sandbox = await backend.create({ identity: testIdentity('canceller'), persistent: true, memoryMb: 64, egress: null });
    expect((await sandbox.run(codeRequest('var kept = 1; kept'))).value).toBe(1);
    const abort = new AbortController();
    const spinning = sandbox.run(codeRequest('while (true) {}', { timeoutMs: 60_000, cpuTimeMs: 60_000, signal: abort.signal }));
    setImmediate(() => abort.abort());
    await expect(spinning).rejects.toMatchObject({ code: 'CALL_CANCELLED' });
    expect(sandbox.alive()).toBe(false);
  });

  it('never runs a call cancelled before it started', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect((await perCall()).run(codeRequest('1', { signal: abort.signal }))).rejects.toMatchObject({ code: 'CALL_CANCELLED' });
  });
});
