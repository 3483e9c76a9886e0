import { Readable } from 'node:stream';
import { pack, type Headers } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import { checkWorkspaceArchive, FRAME_DATA_BYTES, readWorkspaceArchive, sendWorkspaceFiles, writeWorkspaceArchive } from './container-files.ts';
import { ExecutorLinkError, type ExecutorLink } from './executor-link.ts';
import { readTarEntries } from '../../../test/support/tar-entries.ts';

type Reply = Record<string, unknown>;

/** An executor link that records every request and answers with `answer` (never, if it returns null). */
function fakeLink(answer: (req: Reply) => Reply | null = () => ({ status: 'ok', written: 0 })) {
  const requests: Reply[] = [];
  let open = true;
  const closers: ((e: ExecutorLinkError) => void)[] = [];
  let pending: ((e: ExecutorLinkError) => void) | null = null;
  const link: ExecutorLink = {
    get open() {
      return open;
    },
    request(message) {
      requests.push(structuredClone(message) as Reply);
      if (!open) return Promise.reject(new ExecutorLinkError('closed', 'closed'));
      const reply = answer(message as Reply);
      if (reply !== null) return Promise.resolve(reply);
      return new Promise((_, reject) => (pending = reject));
    },
    close() {
      if (!open) return;
      open = false;
      pending?.(new ExecutorLinkError('closed by the runner', 'closed'));
      for (const c of closers.splice(0)) c(new ExecutorLinkError('closed by the runner', 'closed'));
    },
    onClose(listener) {
      closers.push(listener);
    },
  };
  return { link, requests, isOpen: () => open };
}

type Entry = Headers & { body?: string | Buffer };

/** A tar archive built with tar-stream's pack, as one buffer. */
async function tarOf(entries: readonly Entry[]): Promise<Buffer> {
  const p = pack();
  for (const { body, ...header } of entries) {
    if (body === undefined) p.entry(header);
    else p.entry(header, body);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** One raw 512-byte ustar header, for what pack will not write (global pax headers, lying sizes). */
function rawHeader(name: string, size: number, typeflag: string): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100);
  b.write('0000000\0', 108);
  b.write('0000000\0', 116);
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  b.write('00000000000\0', 136);
  b.write(typeflag, 156);
  b.write('ustar\0', 257);
  b.write('00', 263);
  b.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return b;
}

function paxRecords(records: Record<string, string>): Buffer {
  const lines = Object.entries(records).map(([k, v]) => {
    const body = ` ${k}=${v}\n`;
    let n = body.length + 1;
    while (`${n}${body}`.length !== n) n = `${n}${body}`.length;
    return `${n}${body}`;
  });
  return Buffer.from(lines.join(''));
}

const padded = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
const caps = { maxBytes: 1024 * 1024, maxFiles: 100 };

async function refusal(archive: Buffer | Readable, limits = caps) {
  const { link, requests } = fakeLink();
  const source = Buffer.isBuffer(archive) ? Readable.from(archive) : archive;
  const err = await writeWorkspaceArchive(link, source, limits).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CordonError);
  // Nothing reached the sandbox: a refused archive changes nothing.
  expect(requests).toEqual([]);
  return err as CordonError;
}

describe('writing an archive into a container workspace', () => {
  it.each<[string, Entry[], string, Partial<typeof caps>?]>([
    ['a parent reference', [{ name: '../x', body: 'x' }], 'parent_reference'],
    ['an absolute path', [{ name: '/etc/passwd', body: 'root::0:0::/:/bin/sh\n' }], 'absolute'],
    ['a parent reference past a directory', [{ name: 'a/../../x', body: 'x' }], 'parent_reference'],
    ['a NUL in a name (a pax path)', [{ name: `${'n'.repeat(120)}\0evil`, body: 'x' }], 'nul'],
    ['a symlink', [{ name: 'link', type: 'symlink', linkname: '/etc' }], 'entry_type'],
    ['a hard link', [{ name: 'a', body: 'x' }, { name: 'b', type: 'link', linkname: 'a' }], 'entry_type'],
    ['a character device', [{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }], 'entry_type'],
    ['a fifo', [{ name: 'pipe', type: 'fifo' }], 'entry_type'],
    ['more entries than maxFiles', [{ name: 'a', body: '1' }, { name: 'b', body: '2' }, { name: 'c', body: '3' }], 'too_many_files', { maxFiles: 2 }],
    ['more file data than maxBytes', [{ name: 'a', body: 'x'.repeat(600) }, { name: 'b', body: 'x'.repeat(600) }], 'too_large', { maxBytes: 1000 }],
    ['a path past 1024 bytes', [{ name: `${'d'.repeat(200)}/`.repeat(6) + 'f', body: 'x' }], 'path_too_long'],
    ['a name past 255 bytes', [{ name: 'n'.repeat(256), body: 'x' }], 'component_too_long'],
    ['a path 65 directories deep', [{ name: `${'d/'.repeat(65)}f`, body: 'x' }], 'too_deep'],
    ['a file named twice', [{ name: 'a', body: '1' }, { name: './a', body: '2' }], 'duplicate'],
    ['a path inside a file', [{ name: 'a', body: '1' }, { name: 'a/b', body: '2' }], 'conflict'],
    ['a pax linkpath on a file', [{ name: 'f', body: 'x', pax: { linkpath: '/etc/shadow' } }], 'pax_header'],
  ])('refuses %s before sending anything', async (_why, entries, reason, limits) => {
    const err = await refusal(await tarOf(entries), { ...caps, ...limits });
    expect(err.code).toBe('INPUT_INVALID');
    expect(err.details).toMatchObject({ field: 'archive', reason });
  });

  it('refuses a huge size from its header, before reading the body', async () => {
    // A header claiming 8 GiB and then silence: waiting for the body would never end.
    let sent = false;
    const source = new Readable({
      read() {
        if (!sent) this.push(rawHeader('big', 0o77777777777, '0'));
        sent = true;
      },
    });
    const err = await refusal(source);
    expect(err.details).toMatchObject({ reason: 'too_large', path: 'big' });
    expect(err.message).toContain('8589934591 bytes');
  });

  it('refuses a pax global header that is more than metadata', async () => {
    const records = paxRecords({ 'GNU.sparse.major': '1' });
    const archive = Buffer.concat([rawHeader('pax_global_header', records.length, 'g'), padded(records), rawHeader('f', 1, '0'), padded(Buffer.from('x')), Buffer.alloc(1024)]);
    expect((await refusal(archive)).details).toMatchObject({ reason: 'pax_header' });
  });

  it('refuses a pax header bigger than the archive may be, before buffering it', async () => {
    const archive = Buffer.concat([rawHeader('PaxHeader', 64 * 1024 * 1024, 'x'), Buffer.alloc(4 * 1024 * 1024)]);
    expect((await refusal(archive, { maxBytes: 1024, maxFiles: 2 })).details).toMatchObject({ reason: 'too_large' });
  });

  it.each([
    ['a gzip stream', async () => Buffer.concat([Buffer.from('1f8b0800000000000003', 'hex'), Buffer.alloc(1014, 0x5a)])],
    ['an archive cut inside a body', async () => (await tarOf([{ name: 'a', body: 'x'.repeat(2000) }])).subarray(0, 1500)],
  ])('refuses %s as malformed', async (_why, make) => {
    expect((await refusal(await make())).details).toMatchObject({ field: 'archive', reason: 'malformed' });
  });

  it('reports a source stream that fails as unreadable', async () => {
    const source = new Readable({
      read() {
        this.destroy(new Error('the client went away'));
      },
    });
    expect((await refusal(source)).details).toMatchObject({ field: 'archive', reason: 'unreadable' });
  });

  it('sends normalised entries with masked modes, staged in frames and committed by the last', async () => {
    const { link, requests } = fakeLink(() => ({ status: 'ok', written: 2 }));
    const big = Buffer.alloc(FRAME_DATA_BYTES * 2 + 10, 7);
    const archive = await tarOf([
      { name: './', type: 'directory' },
      { name: './src/', type: 'directory', mode: 0o7000 },
      { name: './src/run.sh', mode: 0o4777, body: '#!/bin/sh\necho hi\n' },
      { name: 'data/big.bin', mode: 0o640, body: big },
    ]);
    const result = await writeWorkspaceArchive(link, Readable.from(archive), { maxBytes: big.length + 100, maxFiles: 10 });
    expect(result).toEqual({ files: 2, bytes: big.length + 18 });
    expect(requests.map((r) => [r.op, r.commit])).toEqual([['put', false], ['put', false], ['put', true]]);
    expect(new Set(requests.map((r) => r.batch)).size).toBe(1);
    const items = requests.flatMap((r) => r.files as Reply[]);
    expect(items.slice(0, 2)).toEqual([
      { type: 'directory', path: 'src', mode: 0o700 },
      { type: 'file', path: 'src/run.sh', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n').toString('base64') },
    ]);
    const pieces = items.filter((i) => i.path === 'data/big.bin');
    expect(pieces.map((p) => [p.mode, p.more])).toEqual([[0o640, true], [0o640, true], [0o640, undefined]]);
    expect(Buffer.concat(pieces.map((p) => Buffer.from(p.data as string, 'base64'))).equals(big)).toBe(true);
  });

  it('sends nothing for an empty archive', async () => {
    const { link, requests } = fakeLink();
    expect(await writeWorkspaceArchive(link, Readable.from(await tarOf([])), caps)).toEqual({ files: 0, bytes: 0 });
    expect(requests).toEqual([]);
  });

  it('reports a full workspace as a typed error, and the link goes on', async () => {
    const { link, isOpen } = fakeLink(() => ({ status: 'error', error: { name: 'ENOSPC', message: 'a: No space left on device', path: 'a' } }));
    const err = await writeWorkspaceArchive(link, Readable.from(await tarOf([{ name: 'a', body: 'x' }])), caps).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INPUT_INVALID', details: { field: 'archive', reason: 'workspace_full', path: 'a' } });
    expect(isOpen()).toBe(true);
  });

  it.each([
    ['a reply of the wrong shape', () => ({ status: 'done' })],
    ['an error without a message', () => ({ status: 'error', error: { name: 'X' } })],
  ])('ends the link on %s', async (_why, answer) => {
    const { link, isOpen } = fakeLink(answer);
    const err = await writeWorkspaceArchive(link, Readable.from(await tarOf([{ name: 'a', body: 'x' }])), caps).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SANDBOX_FAILED', details: { reason: 'protocol' } });
    expect(isOpen()).toBe(false);
  });

  it('ends the link when the executor does not answer in time', async () => {
    const { link, isOpen } = fakeLink(() => null);
    const checked = await checkWorkspaceArchive(Readable.from(await tarOf([{ name: 'a', body: 'x' }])), caps);
    await expect(sendWorkspaceFiles(link, checked, { frameTimeoutMs: 20 })).rejects.toMatchObject({ code: 'SANDBOX_FAILED', details: { reason: 'timeout' } });
    expect(isOpen()).toBe(false);
  });

  it('refuses caps past the ceilings', async () => {
    const err = await refusal(await tarOf([]), { maxBytes: 2 ** 40, maxFiles: 1 });
    expect(err.details).toMatchObject({ field: 'caps' });
  });
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('reading a container workspace as an archive', () => {
  it('packs the checked reply as a tar, with modes masked and what was left out', async () => {
    const { link, requests } = fakeLink(() => ({
      status: 'ok',
      truncated: true,
      skipped: [{ path: 'src/link', reason: 'symlink' }, { path: 'src/huge', reason: 'too_large' }],
      files: [
        { type: 'directory', path: 'src', mode: 0o755 },
        { type: 'file', path: 'src/a.txt', mode: 0o6777, data: b64('alpha') },
      ],
    }));
    const tar = await readWorkspaceArchive(link, './src/', { maxBytes: 100, maxFiles: 10 });
    expect(requests).toEqual([{ op: 'get', id: 'get', path: 'src', maxBytes: 100, maxFiles: 10 }]);
    expect({ files: tar.files, bytes: tar.bytes, truncated: tar.truncated, skipped: tar.skipped }).toEqual({
      files: 1,
      bytes: 5,
      truncated: true,
      skipped: [{ path: 'src/link', reason: 'symlink' }, { path: 'src/huge', reason: 'too_large' }],
    });
    expect((await readTarEntries(tar)).map((e) => ({ ...e, data: e.data.toString() }))).toEqual([
      { name: 'src', type: 'directory', mode: 0o755, data: '' },
      { name: 'src/a.txt', type: 'file', mode: 0o755, data: 'alpha' },
    ]);
  });

  const file = (path: string, data = 'x') => ({ type: 'file', path, mode: 0o644, data: b64(data) });
  it.each<[string, Reply[], Reply?]>([
    ['a parent reference', [file('src/../../etc/passwd')]],
    ['an absolute path', [file('/etc/passwd')]],
    ['a path outside the one asked for', [file('other/a')]],
    ['a path not in normal form', [file('src//a')]],
    ['more entries than maxFiles', [file('src/a'), file('src/b'), file('src/c')]],
    ['more bytes than maxBytes', [file('src/a', 'x'.repeat(60)), file('src/b', 'x'.repeat(60))]],
    ['a path twice', [file('src/a'), file('src/a')]],
    ['an entry inside a file', [file('src/a'), file('src/a/b')]],
    ['data that is not base64', [{ type: 'file', path: 'src/a', mode: 0o644, data: '%%%' }]],
    ['a symlink entry', [{ type: 'symlink', path: 'src/a', mode: 0o777 }]],
    ['a mode that is not permission bits', [{ type: 'file', path: 'src/a', mode: -1, data: '' }]],
    ['an unknown skip reason', [], { skipped: [{ path: 'x', reason: 'because' }] }],
    ['no truncated flag', [], { truncated: undefined }],
  ])('ends the link on a reply with %s', async (_why, files, extra) => {
    const { link, isOpen } = fakeLink(() => ({ status: 'ok', truncated: false, skipped: [], files, ...extra }));
    await expect(readWorkspaceArchive(link, 'src', { maxBytes: 100, maxFiles: 2 })).rejects.toMatchObject({ code: 'SANDBOX_FAILED', details: { reason: 'protocol' } });
    expect(isOpen()).toBe(false);
  });

  it('refuses a path that leaves the workspace before asking', async () => {
    const { link, requests } = fakeLink();
    await expect(readWorkspaceArchive(link, '../etc', caps)).rejects.toMatchObject({ code: 'INPUT_INVALID', details: { field: 'path', reason: 'parent_reference' } });
    await expect(readWorkspaceArchive(link, '/etc', caps)).rejects.toMatchObject({ details: { reason: 'absolute' } });
    expect(requests).toEqual([]);
  });

  it.each([
    ['ENOENT', 'not_found'],
    ['ELOOP', 'symlink'],
    ['TooLarge', 'too_large'],
  ])('reports %s as a typed error, and the link goes on', async (name, reason) => {
    const { link, isOpen } = fakeLink(() => ({ status: 'error', error: { name, message: `link: ${name}`, path: 'link' } }));
    await expect(readWorkspaceArchive(link, 'link', caps)).rejects.toMatchObject({ code: 'INPUT_INVALID', details: { field: 'path', reason, path: 'link' } });
    expect(isOpen()).toBe(true);
  });
});
