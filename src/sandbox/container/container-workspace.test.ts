import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import { createHostWorkspace, parseWorkspacePath } from '../workspace/index.ts';
import { executorWorkspace, MAX_LIST_ENTRIES, MAX_READ_BYTES, WRITE_FRAME_BYTES } from './container-workspace.ts';
import { ExecutorLinkError, type ExecutorLink } from './executor-link.ts';

type Reply = Record<string, unknown>;
const p = parseWorkspacePath;

/** An executor link that records every request (and its reply cap) and answers with `answer` (never, if it returns null). */
function fakeLink(answer: (req: Reply) => Reply | Error | null) {
  const requests: { message: Reply; maxReplyBytes: number }[] = [];
  let open = true;
  let pending: ((e: ExecutorLinkError) => void) | null = null;
  const link: ExecutorLink = {
    get open() {
      return open;
    },
    request(message, maxReplyBytes) {
      requests.push({ message: structuredClone(message) as Reply, maxReplyBytes });
      if (!open) return Promise.reject(new ExecutorLinkError('closed', 'closed'));
      const reply = answer(message as Reply);
      if (reply instanceof Error) return Promise.reject(reply);
      if (reply !== null) return Promise.resolve(reply);
      return new Promise((_, reject) => (pending = reject));
    },
    close() {
      open = false;
      pending?.(new ExecutorLinkError('closed by the runner', 'closed'));
    },
    onClose() {},
  };
  const workspace = executorWorkspace({ sandboxId: 'sbx-test', turn: (work) => work(link), opTimeoutMs: 200 });
  return { link, workspace, requests, isOpen: () => open };
}

const ok = (fields: Reply = {}) => () => ({ status: 'ok', ...fields });
const fail = (error: Reply) => () => ({ status: 'error', error });
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** The rejection, as a CordonError. */
async function refusal(promise: Promise<unknown>): Promise<CordonError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(CordonError);
  return err as CordonError;
}

/** A reply that breaks the protocol: the op fails with SANDBOX_FAILED and the link (the container) is closed. */
async function expectBreach(answer: () => Reply, call: (ws: ReturnType<typeof fakeLink>['workspace']) => Promise<unknown>): Promise<void> {
  const fx = fakeLink(answer);
  const err = await refusal(call(fx.workspace));
  expect(err.code).toBe('SANDBOX_FAILED');
  expect(err.details).toMatchObject({ reason: 'protocol' });
  expect(fx.isOpen()).toBe(false);
}

describe('the container workspace (runner side)', () => {
  it('asks for min(limit, maxBytes) bytes and caps the reply to that in base64', async () => {
    const fx = fakeLink(ok({ sizeBytes: 10, content: b64('3456') }));
    const read = await fx.workspace.read(p('/workspace/a.txt'), { offset: 3, limit: 4, maxBytes: 100 });
    expect(read).toEqual({ content: Buffer.from('3456'), sizeBytes: 10, truncated: true });
    expect(fx.requests[0]?.message).toEqual({ op: 'fs.read', id: 'fs', path: 'a.txt', offset: 3, want: 4 });
    expect(fx.requests[0]?.maxReplyBytes).toBeLessThan(20 * 1024);
  });

  it('never asks for more than its read ceiling, however much the caller allows', async () => {
    const fx = fakeLink(ok({ sizeBytes: 0, content: '' }));
    await fx.workspace.read(p('a'), { maxBytes: Number.MAX_SAFE_INTEGER });
    expect(fx.requests[0]?.message.want).toBe(MAX_READ_BYTES);
    expect(fx.requests[0]?.maxReplyBytes).toBeLessThan((MAX_READ_BYTES * 4) / 3 + 64 * 1024);
  });

  it('works out truncated itself: a reply cannot say a cut read is whole', async () => {
    const fx = fakeLink(ok({ sizeBytes: 10, content: b64('ab'), truncated: false }));
    expect(await fx.workspace.read(p('a'), { maxBytes: 2 })).toEqual({ content: Buffer.from('ab'), sizeBytes: 10, truncated: true });
  });

  it('ends the container for content longer than asked, or past the file\'s size, or not base64', async () => {
    await expectBreach(ok({ sizeBytes: 100, content: b64('x'.repeat(11)) }), (ws) => ws.read(p('a'), { maxBytes: 10 }));
    await expectBreach(ok({ sizeBytes: 100, content: b64('x'.repeat(100)) }), (ws) => ws.read(p('a'), { maxBytes: 10 }));
    await expectBreach(ok({ sizeBytes: 3, content: b64('abcd') }), (ws) => ws.read(p('a'), { maxBytes: 10 }));
    await expectBreach(ok({ sizeBytes: 5, content: b64('abc'), }), (ws) => ws.read(p('a'), { offset: 4, maxBytes: 10 }));
    await expectBreach(ok({ sizeBytes: 3, content: 'not base64!' }), (ws) => ws.read(p('a'), { maxBytes: 10 }));
    await expectBreach(ok({ sizeBytes: '3', content: b64('abc') }), (ws) => ws.read(p('a'), { maxBytes: 10 }));
    await expectBreach(ok({ sizeBytes: -1, content: '' }), (ws) => ws.read(p('a'), { maxBytes: 10 }));
  });

  it('ends the container for too many entries, or an entry it may not name', async () => {
    const entry = (path: unknown, type: unknown = 'file', sizeBytes: unknown = 1) => ({ path, type, sizeBytes });
    const list = (entries: unknown[], truncated: unknown = false) => ok({ entries, truncated });
    const opts = { depth: 5, maxEntries: 2 };
    await expectBreach(list([entry('a'), entry('b'), entry('c')]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry('../etc/passwd')]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry('/etc/passwd')]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry('other/x')]), (ws) => ws.list(p('src'), opts));
    await expectBreach(list([entry('src')]), (ws) => ws.list(p('src'), opts));
    await expectBreach(list([entry('a//b')]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry('bad\ud800name')]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry('x'.repeat(1025))]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry('a'), entry('a')]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry('a', 'socket')]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry('a', 'file', 1.5)]), (ws) => ws.list(p(''), opts));
    await expectBreach(list([entry(7)]), (ws) => ws.list(p(''), opts));
    await expectBreach(list(['a']), (ws) => ws.list(p(''), opts));
    await expectBreach(list([], 'no'), (ws) => ws.list(p(''), opts));
    await expectBreach(ok({ entries: {}, truncated: false }), (ws) => ws.list(p(''), opts));
  });

  it('takes a well-formed list, and caps what a caller may ask for', async () => {
    const fx = fakeLink(ok({ entries: [{ path: 'src/a.ts', type: 'file', sizeBytes: 1 }, { path: 'src/lib', type: 'directory', sizeBytes: 4096 }], truncated: true }));
    expect(await fx.workspace.list(p('src'), { depth: 1, maxEntries: 2 })).toEqual({
      entries: [{ path: 'src/a.ts', type: 'file', sizeBytes: 1 }, { path: 'src/lib', type: 'directory', sizeBytes: 4096 }],
      truncated: true,
    });
    await fx.workspace.list(p('src'), { depth: 1, maxEntries: 10 ** 9 }).catch(() => undefined);
    expect(fx.requests[1]?.message.maxEntries).toBe(MAX_LIST_ENTRIES);
  });

  it('ends the container for a stat of the wrong shape', async () => {
    const stat = { type: 'file', sizeBytes: 1, mtimeMs: 1e12, mode: 0o644 };
    for (const bad of [{ type: 'socket' }, { sizeBytes: -1 }, { mtimeMs: 'yesterday' }, { mtimeMs: Number.NaN }, { mode: 0o17777 }, { mode: 1.5 }]) {
      await expectBreach(ok({ ...stat, ...bad }), (ws) => ws.stat(p('f')));
    }
    const fx = fakeLink(ok({ ...stat, path: '../../etc/passwd' }));
    // The path is the runner's own, whatever the reply says.
    expect(await fx.workspace.stat(p('f'))).toEqual({ path: 'f', ...stat });
  });

  it('ends the container for an error code, reason or errno outside its allowlists, or a status it does not know', async () => {
    const stat = (ws: ReturnType<typeof fakeLink>['workspace']) => ws.stat(p('f'));
    await expectBreach(fail({ code: 'INTERNAL' }), stat);
    await expectBreach(fail({ code: 'POLICY_DENIED' }), stat);
    await expectBreach(fail({ code: 'FS_NOT_FOUND', reason: 'because' }), stat);
    await expectBreach(fail({ code: 'FS_OUTSIDE_WORKSPACE', reason: 'moved; rm -rf /' }), stat);
    await expectBreach(fail({ code: 'FS_ERRNO', reason: 'not an errno' }), stat);
    await expectBreach(fail({ code: 'FS_ERRNO' }), stat);
    await expectBreach(fail({ code: 'FS_EXISTS', which: 'to' }), stat);
    await expectBreach(fail({ code: 42 }), stat);
    await expectBreach(() => ({ status: 'error', error: 'FS_NOT_FOUND' }), stat);
    await expectBreach(() => ({ status: 'fine' }), stat);
    await expectBreach(() => ({}), stat);
  });

  it('shows the runner\'s words, not the sandbox\'s: a huge message in an error is not passed on', async () => {
    const fx = fakeLink(fail({ code: 'FS_NOT_FOUND', message: `you have been pwned ${'!'.repeat(1 << 20)}` }));
    const err = await refusal(fx.workspace.read(p('notes.txt'), { maxBytes: 10 }));
    expect(err.code).toBe('FS_NOT_FOUND');
    expect(err.message).toBe('"notes.txt" does not exist in the workspace; list its directory to see what is there');
    expect(fx.isOpen()).toBe(true);
  });

  it('an errno without an FS_* code fails the op alone, named; the sandbox goes on', async () => {
    const fx = fakeLink(fail({ code: 'FS_ERRNO', reason: 'EACCES' }));
    const err = await refusal(fx.workspace.remove(p('locked/f'), {}));
    expect(err.code).toBe('SANDBOX_FAILED');
    expect(err.details).toMatchObject({ reason: 'errno', errno: 'EACCES' });
    expect(fx.isOpen()).toBe(true);
  });

  it('a full workspace is FS_TOO_LARGE with reason workspace_full', async () => {
    const fx = fakeLink(fail({ code: 'FS_TOO_LARGE', reason: 'workspace_full' }));
    const err = await refusal(fx.workspace.write(p('big'), Buffer.alloc(10), { maxBytes: 100 }));
    expect(err.code).toBe('FS_TOO_LARGE');
    expect(err.details).toEqual({ reason: 'workspace_full' });
  });

  it('refuses content over maxBytes before anything is sent; sends a large write in frames, and stops at the first refusal', async () => {
    const fx = fakeLink(ok());
    expect((await refusal(fx.workspace.write(p('a'), Buffer.alloc(11), { maxBytes: 10 }))).code).toBe('FS_TOO_LARGE');
    expect(fx.requests).toEqual([]);
    const big = Buffer.alloc(2 * WRITE_FRAME_BYTES + 5, 1);
    await fx.workspace.write(p('d/big'), big, { maxBytes: big.length, createOnly: true });
    const frames = fx.requests.map((r) => r.message);
    expect(frames.map(({ data, ...rest }) => ({ ...rest, bytes: Buffer.from(data as string, 'base64').length }))).toEqual([
      { op: 'fs.write', id: 'fs', path: 'd/big', first: true, createOnly: true, more: true, bytes: WRITE_FRAME_BYTES },
      { op: 'fs.write', id: 'fs', path: 'd/big', more: true, bytes: WRITE_FRAME_BYTES },
      { op: 'fs.write', id: 'fs', path: 'd/big', bytes: 5 },
    ]);
    const refused = fakeLink(fail({ code: 'FS_EXISTS' }));
    expect((await refusal(refused.workspace.write(p('d/big'), big, { maxBytes: big.length, createOnly: true }))).code).toBe('FS_EXISTS');
    expect(refused.requests).toHaveLength(1);
  });

  it('ends the container when the executor is silent past the op timeout, or breaks the link\'s framing', async () => {
    const silent = fakeLink(() => null);
    const late = await refusal(silent.workspace.mkdir(p('a')));
    expect(late).toMatchObject({ code: 'SANDBOX_FAILED', details: { reason: 'timeout' } });
    expect(silent.isOpen()).toBe(false);
    const garbled = fakeLink(() => new ExecutorLinkError('the sandbox sent a reply that is not JSON', 'protocol'));
    expect(await refusal(garbled.workspace.mkdir(p('a')))).toMatchObject({ code: 'SANDBOX_FAILED', details: { reason: 'protocol' } });
    expect(garbled.isOpen()).toBe(false);
  });

  it('gives the host workspace\'s codes, words and reasons for the same failures', async () => {
    const base = await mkdtemp(join(tmpdir(), 'cordon-ctrws-'));
    try {
      const host = createHostWorkspace(join(base, 'root'));
      await host.mkdir(p('d'));
      await host.write(p('f'), Buffer.from('x'), { maxBytes: 10 });
      await host.write(p('g'), Buffer.from('x'), { maxBytes: 10 });
      await symlink(base, join(base, 'root', 'link'));
      const cases: [Reply, (ws: typeof host) => Promise<unknown>][] = [
        [{ code: 'FS_NOT_FOUND' }, (ws) => ws.read(p('nope'), { maxBytes: 10 })],
        [{ code: 'FS_NOT_A_FILE' }, (ws) => ws.read(p('d'), { maxBytes: 10 })],
        [{ code: 'FS_NOT_A_FILE' }, (ws) => ws.read(p(''), { maxBytes: 10 })],
        [{ code: 'FS_NOT_A_DIRECTORY' }, (ws) => ws.read(p('f/x'), { maxBytes: 10 })],
        [{ code: 'FS_OUTSIDE_WORKSPACE', reason: 'symlink' }, (ws) => ws.read(p('link/x'), { maxBytes: 10 })],
        [{ code: 'FS_EXISTS', which: 'to' }, (ws) => ws.move(p('f'), p('g'), {})],
        [{ code: 'FS_INVALID_PATH', reason: 'workspace_root', which: 'from' }, (ws) => ws.move(p(''), p('x'), {})],
        [{ code: 'FS_INVALID_PATH', reason: 'workspace_root', which: 'to' }, (ws) => ws.move(p('d'), p(''), {})],
        [{ code: 'FS_INVALID_PATH', reason: 'into_itself', which: 'from' }, (ws) => ws.move(p('d'), p('d/inner'), {})],
        [{ code: 'FS_INVALID_PATH', reason: 'workspace_root' }, (ws) => ws.remove(p(''), { recursive: true })],
        [{ code: 'FS_NOT_A_FILE' }, (ws) => ws.remove(p('d'), {})],
        [{ code: 'FS_NOT_FOUND', which: 'from' }, (ws) => ws.move(p('missing'), p('x'), {})],
      ];
      for (const [error, call] of cases) {
        const want = await refusal(call(host));
        const got = await refusal(call(fakeLink(fail(error)).workspace as typeof host));
        expect({ code: got.code, message: got.message, reason: got.details?.reason }).toEqual({ code: want.code, message: want.message, reason: want.details?.reason });
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
