import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIsolateBackend, runOnce } from '../../../test/support/isolate-sandbox.ts';
import { CordonError } from '../../core/errors.ts';
import type { HostFetch, IsolateBackend } from '../index.ts';

// What crosses into an isolate when the host side of its fetch fails: a fresh error with name
// and message only. A host error's message or stack names host files (a path under src/, a
// node: internal, a file:// URL); none of that may reach tool code.
let backend: IsolateBackend;
beforeAll(() => {
  backend = createTestIsolateBackend();
});
afterAll(async () => {
  await backend.close();
});

const HOST_TRACE = /\/src\/|node:|file:\/\/|\.ts:\d/;
const CATCH = `(async () => { try { await fetch('http://up.test/'); return null; } catch (e) { return { name: e.name, message: e.message, stack: String(e.stack), own: Object.getOwnPropertyNames(e).sort() }; } })()`;

function hostError(): Error {
  const e = new Error(`ENOENT: no such file or directory, open '${import.meta.dirname}/secret-store.ts'`);
  e.stack = `Error: ${e.message}\n    at open (node:internal/fs/promises:639:25)\n    at loadSecret (file://${import.meta.filename}:12:3)`;
  return e;
}

describe('errors that cross into an isolate', () => {
  const cases: [string, HostFetch][] = [
    ['a fetch that rejects with a host error', () => Promise.reject(hostError())],
    ['a fetch that throws synchronously', () => {
      throw hostError();
    }],
    ['a fetch that rejects with a non-error', () => Promise.reject(Object.assign(Object.create(null) as object, { path: '/srv/cordon/src/x.ts' }))],
  ];
  it.each(cases)('carry name and message only, never a host path or stack: %s', async (_what, fetch) => {
    const r = await runOnce(backend, CATCH, {}, { fetch });
    expect(r.status).toBe('ok');
    const e = r.value as { name: string; message: string; stack: string; own: string[] };
    expect(e.name).toBe('TypeError');
    expect(e.message).toBe('fetch: failed on the host side');
    expect(e.stack).not.toMatch(HOST_TRACE);
    expect(e.own).toEqual(['message', 'stack']);
  });

  it("pass a refusal Cordon meant the sandbox to read (a CordonError's message), still without a stack", async () => {
    const fetch: HostFetch = () => Promise.reject(new CordonError('EGRESS_LIMITED', 'EGRESS_LIMITED (request_limit): sandbox s made 20 egress requests'));
    const r = await runOnce(backend, CATCH, {}, { fetch });
    const e = r.value as { name: string; message: string; stack: string };
    expect(e.message).toBe('fetch: EGRESS_LIMITED (request_limit): sandbox s made 20 egress requests');
    expect(e.stack).not.toMatch(HOST_TRACE);
  });
});
