import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pack, type Headers } from 'tar-stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ContainerBackend, FileTransferCaps, Sandbox } from '../../src/sandbox/index.ts';
import { containerIdentity, createTestContainerBackend, runRequest, testContainerSettings, testDocker, type Runtime } from '../support/container-sandbox.ts';
import { describeWith } from '../support/infrastructure.ts';
import { readTarEntries, type TarEntry } from '../support/tar-entries.ts';

type Entry = Headers & { body?: Buffer | string };

function tarOf(entries: readonly Entry[]): Readable {
  const p = pack();
  for (const { body, ...header } of entries) {
    if (body === undefined) p.entry(header);
    else p.entry(header, body);
  }
  p.finalize();
  return Readable.from(p);
}

/** A tar stream's entries by name. */
async function entriesOf(tar: Readable): Promise<Map<string, TarEntry>> {
  return new Map((await readTarEntries(tar)).map((e) => [e.name, e]));
}

const caps: FileTransferCaps = { maxBytes: 1024 * 1024, maxFiles: 100 };
/** Every path under the workspace with its permission bits, sorted: leftovers would show. */
const PY_TREE = `python3 -c 'import os\nfor p in sorted(os.path.join(r, n)[2:] for r, ds, fs in os.walk(".") for n in ds + fs): print(oct(os.lstat(p).st_mode & 0o7777)[2:], p)'`;

// Files move through the executor (the engine's archive endpoints cannot reach a read-only
// root's tmpfs): tar in, tar out, links never followed, caps kept, and a failed write leaves
// the workspace as it was.
for (const runtime of ['runc', 'runsc'] as const satisfies readonly Runtime[]) {
  describeWith('a Docker engine', testDocker !== null, `files in and out of container sandboxes (${runtime})`, () => {
    const shell = testContainerSettings('shell', runtime);
    let backend: ContainerBackend;
    const made: Sandbox[] = [];
    const session = async () => {
      const s = await backend.create({ identity: containerIdentity(shell.profile), persistent: true, memoryMb: 128, egress: null });
      made.push(s);
      return s;
    };
    const sh = async (s: Sandbox, source: string) => (await s.run(runRequest('sh', source))).stdout;
    beforeAll(() => {
      backend = createTestContainerBackend([shell]);
    });
    // Removing containers gVisor is still tearing down can take a while on a loaded machine.
    afterAll(async () => {
      await Promise.all(made.map((s) => s.dispose()));
      await backend.close();
    }, 60_000);

    it('puts nested files that code reads, and gets them back with the same bytes and modes', async () => {
      const s = await session();
      const data = randomBytes(300 * 1024);
      const written = await s.writeFiles?.(
        tarOf([
          { name: 'src/', type: 'directory', mode: 0o750 },
          { name: 'src/main.sh', mode: 0o755, body: '#!/bin/sh\necho main ran\n' },
          { name: 'src/lib/data.bin', mode: 0o640, body: data },
          { name: './notes.txt', mode: 0o4600, body: 'hello\n' },
        ]),
        caps,
      );
      expect(written).toEqual({ files: 3, bytes: data.length + 30 });
      // Modes and names as the sandbox sees them (python: coreutils' statx fails under this gVisor).
      expect(await sh(s, `cat notes.txt; sh src/main.sh; ${PY_TREE}; sha256sum < src/lib/data.bin`)).toBe(
        [
          'hello',
          'main ran',
          '600 notes.txt',
          '750 src',
          '755 src/lib',
          '640 src/lib/data.bin',
          '755 src/main.sh',
          `${createHash('sha256').update(data).digest('hex')}  -`,
          '',
        ].join('\n'),
      );
      const back = await entriesOf((await s.readFiles?.('.', caps)) as Readable);
      expect([...back.keys()].sort()).toEqual(['notes.txt', 'src', 'src/lib', 'src/lib/data.bin', 'src/main.sh']);
      expect(back.get('src')).toMatchObject({ type: 'directory', mode: 0o750 });
      expect(back.get('src/main.sh')).toMatchObject({ type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\necho main ran\n') });
      expect(back.get('src/lib/data.bin')?.data.equals(data)).toBe(true);
      expect(back.get('src/lib/data.bin')?.mode).toBe(0o640);
      expect(back.get('notes.txt')).toMatchObject({ mode: 0o600, data: Buffer.from('hello\n') });
      const one = await s.readFiles?.('src/lib/data.bin', caps);
      expect(one).toMatchObject({ files: 1, bytes: data.length, truncated: false });
      expect([...(await entriesOf(one as Readable)).keys()]).toEqual(['src/lib/data.bin']);
    });

    it('follows no symlink the code made, reading or writing', async () => {
      const s = await session();
      await sh(s, 'ln -s /etc link; mkdir d; ln -s /etc/passwd d/pw; echo mine > d/own.txt');
      await expect(s.readFiles?.('link', caps)).rejects.toMatchObject({ code: 'INPUT_INVALID', details: { field: 'path', reason: 'symlink' } });
      await expect(s.readFiles?.('link/passwd', caps)).rejects.toMatchObject({ code: 'INPUT_INVALID', details: { reason: 'symlink' } });
      const all = (await s.readFiles?.('.', caps)) as Awaited<ReturnType<NonNullable<Sandbox['readFiles']>>>;
      expect(all.skipped).toEqual([{ path: 'd/pw', reason: 'symlink' }, { path: 'link', reason: 'symlink' }]);
      expect([...(await entriesOf(all)).keys()]).toEqual(['d', 'd/own.txt']);
      // A write through the link is refused whole: the file beside it is not written either.
      await expect(s.writeFiles?.(tarOf([{ name: 'fine.txt', body: 'x' }, { name: 'link/evil', body: 'x' }]), caps)).rejects.toMatchObject({
        code: 'INPUT_INVALID',
        details: { field: 'archive', reason: 'write_failed', path: 'link/evil', error: 'ELOOP' },
      });
      expect(await sh(s, `${PY_TREE}; readlink link`)).toBe('755 d\n644 d/own.txt\n777 d/pw\n777 link\n/etc\n');
    });

    it('leaves a file bigger than maxBytes out whole and says so; asked for alone, refuses it', async () => {
      const s = await session();
      await sh(s, 'head -c 5000 /dev/zero > big; echo small > small');
      const tar = (await s.readFiles?.('.', { maxBytes: 1000, maxFiles: 10 })) as Awaited<ReturnType<NonNullable<Sandbox['readFiles']>>>;
      expect({ truncated: tar.truncated, skipped: tar.skipped, files: tar.files }).toEqual({ truncated: true, skipped: [{ path: 'big', reason: 'too_large' }], files: 1 });
      expect([...(await entriesOf(tar)).keys()]).toEqual(['small']);
      await expect(s.readFiles?.('big', { maxBytes: 1000, maxFiles: 10 })).rejects.toMatchObject({ code: 'INPUT_INVALID', details: { reason: 'too_large' } });
    });

    it('refuses a write past the workspace\'s size with a typed error; nothing of it stays, and the sandbox goes on', async () => {
      const s = await session();
      await sh(s, 'echo before > before.txt');
      const huge = Buffer.alloc((shell.limits.workspaceMb + 4) * 1024 * 1024, 1);
      const err = await s.writeFiles?.(tarOf([{ name: 'first.txt', body: 'x' }, { name: 'deep/er/huge.bin', body: huge }]), { maxBytes: 64 * 1024 * 1024, maxFiles: 10 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INPUT_INVALID', details: { field: 'archive', reason: 'workspace_full', path: 'deep/er/huge.bin' } });
      expect(s.alive()).toBe(true);
      expect(await sh(s, PY_TREE)).toBe('644 before.txt\n');
      expect(await s.writeFiles?.(tarOf([{ name: 'after.txt', body: 'ok' }]), caps)).toEqual({ files: 1, bytes: 2 });
      expect(await sh(s, 'cat after.txt')).toBe('ok');
    });

    it('takes its turn after a running call, never in the middle of one', async () => {
      const s = await session();
      const call = s.run(runRequest('sh', 'sleep 0.5; echo late > late.txt'));
      const read = s.readFiles?.('late.txt', caps);
      await call;
      expect((await entriesOf((await read) as Readable)).get('late.txt')?.data.toString()).toBe('late\n');
    });

    it('moves files in and out of session sandboxes only', async () => {
      const s = await backend.create({ identity: containerIdentity(shell.profile), persistent: false, memoryMb: 128, egress: null });
      made.push(s);
      await expect(s.writeFiles?.(tarOf([{ name: 'a', body: 'x' }]), caps)).rejects.toMatchObject({ code: 'INPUT_INVALID', details: { field: 'sandbox' } });
      await expect(s.readFiles?.('.', caps)).rejects.toMatchObject({ code: 'INPUT_INVALID', details: { field: 'sandbox' } });
    });
  });
}
