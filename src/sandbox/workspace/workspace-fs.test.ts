import { readFile as readHost, readdir, stat as statHost, writeFile as writeHost, mkdir as mkdirHost } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempWorkspace, type TempWorkspace } from '../../../test/support/temp-workspace.ts';
import { rejectionCode } from '../../../test/support/cordon-errors.ts';
import { mkdir, readFile, stat, writeFile } from './workspace-fs.ts';
import { list, move, remove } from './workspace-tree.ts';
import { createHostWorkspace } from './host-workspace.ts';
import { parseWorkspacePath } from './workspace-path.ts';

const MAX = { maxBytes: 1 << 20 };
let ws: TempWorkspace;

beforeEach(async () => {
  ws = await createTempWorkspace();
});

afterEach(async () => {
  await ws.cleanup();
});

describe('readFile', () => {
  beforeEach(async () => {
    await writeHost(join(ws.root, 'digits.txt'), '0123456789');
  });

  it('reads a whole file, or a window of it, and says when bytes remain', async () => {
    expect(await readFile(ws.root, 'digits.txt', MAX)).toEqual({ content: Buffer.from('0123456789'), sizeBytes: 10, truncated: false });
    expect(await readFile(ws.root, '/workspace/digits.txt', { offset: 2, limit: 3, maxBytes: 100 })).toMatchObject({
      content: Buffer.from('234'),
      truncated: true,
    });
    expect(await readFile(ws.root, 'digits.txt', { maxBytes: 4 })).toMatchObject({ content: Buffer.from('0123'), truncated: true });
    expect(await readFile(ws.root, 'digits.txt', { offset: 50, maxBytes: 4 })).toMatchObject({ content: Buffer.alloc(0), truncated: false });
  });

  it('refuses directories, the root and missing files with their codes', async () => {
    await mkdirHost(join(ws.root, 'd'));
    expect(await rejectionCode(readFile(ws.root, 'd', MAX))).toBe('FS_NOT_A_FILE');
    expect(await rejectionCode(readFile(ws.root, '', MAX))).toBe('FS_NOT_A_FILE');
    expect(await rejectionCode(readFile(ws.root, 'nope.txt', MAX))).toBe('FS_NOT_FOUND');
    expect(await rejectionCode(readFile(ws.root, 'missing/nope.txt', MAX))).toBe('FS_NOT_FOUND');
    expect(await rejectionCode(readFile(ws.root, 'digits.txt/x', MAX))).toBe('FS_NOT_A_DIRECTORY');
  });

  it('refuses a FIFO planted in the workspace instead of blocking on it', async () => {
    execFileSync('mkfifo', [join(ws.root, 'pipe')]);
    expect(await rejectionCode(readFile(ws.root, 'pipe', MAX))).toBe('FS_NOT_A_FILE');
    expect(await stat(ws.root, 'pipe')).toMatchObject({ type: 'other' });
  });
});

describe('writeFile', () => {
  it('creates and replaces files, keeping the mode of a file it replaces and leaving no temp files', async () => {
    await writeFile(ws.root, 'a.txt', 'one', MAX);
    await writeHost(join(ws.root, 'x.sh'), 'old', { mode: 0o750 });
    await writeFile(ws.root, 'x.sh', 'new', MAX);
    expect(await readHost(join(ws.root, 'x.sh'), 'utf8')).toBe('new');
    expect((await statHost(join(ws.root, 'x.sh'))).mode & 0o777).toBe(0o750);
    expect((await readdir(ws.root)).sort()).toEqual(['a.txt', 'x.sh']);
  });

  it('createOnly refuses an existing file without changing it', async () => {
    await writeFile(ws.root, 'a.txt', 'one', { ...MAX, createOnly: true });
    expect(await rejectionCode(writeFile(ws.root, 'a.txt', 'two', { ...MAX, createOnly: true }))).toBe('FS_EXISTS');
    expect(await readHost(join(ws.root, 'a.txt'), 'utf8')).toBe('one');
    expect(await readdir(ws.root)).toEqual(['a.txt']);
  });

  it('refuses content over the limit, a directory at the name, the root and a missing parent', async () => {
    await mkdirHost(join(ws.root, 'd'));
    expect(await rejectionCode(writeFile(ws.root, 'big.bin', Buffer.alloc(11), { maxBytes: 10 }))).toBe('FS_TOO_LARGE');
    expect(await rejectionCode(writeFile(ws.root, 'd', 'x', MAX))).toBe('FS_NOT_A_FILE');
    expect(await rejectionCode(writeFile(ws.root, '/workspace', 'x', MAX))).toBe('FS_NOT_A_FILE');
    expect(await rejectionCode(writeFile(ws.root, 'missing/a.txt', 'x', MAX))).toBe('FS_NOT_FOUND');
    expect((await readdir(ws.root)).sort()).toEqual(['d']);
  });

  it('never shows a reader half a file', async () => {
    const sizeBytes = 4 << 20;
    const versions = [Buffer.alloc(sizeBytes, 'a'), Buffer.alloc(sizeBytes, 'b')];
    await writeFile(ws.root, 'big.bin', versions[0] ?? Buffer.alloc(0), { maxBytes: sizeBytes });
    let writing = true;
    const seen = new Set<string>();
    const reader = (async () => {
      while (writing) {
        const bytes = await readHost(join(ws.root, 'big.bin'));
        const first = bytes[0] ?? 0;
        // Whole and uniform: exactly one version, never a prefix or a mix.
        expect(bytes.length).toBe(sizeBytes);
        expect(bytes.every((b) => b === first)).toBe(true);
        seen.add(String.fromCharCode(first));
      }
    })();
    for (let i = 0; i < 12; i += 1) await writeFile(ws.root, 'big.bin', versions[i % 2] ?? Buffer.alloc(0), { maxBytes: sizeBytes });
    writing = false;
    await reader;
    expect(seen.size).toBeGreaterThan(0);
  });
});

describe('stat, mkdir, list', () => {
  it('stats files, directories and the root', async () => {
    await writeFile(ws.root, 'a.txt', 'abc', MAX);
    expect(await stat(ws.root, 'a.txt')).toMatchObject({ path: 'a.txt', type: 'file', sizeBytes: 3 });
    expect(await stat(ws.root, '/workspace')).toMatchObject({ path: '', type: 'directory' });
    expect(await rejectionCode(stat(ws.root, 'nope'))).toBe('FS_NOT_FOUND');
  });

  it('mkdir creates parents, accepts existing directories and refuses a file on the way', async () => {
    await mkdir(ws.root, 'a/b/c');
    await mkdir(ws.root, 'a/b');
    expect((await statHost(join(ws.root, 'a', 'b', 'c'))).isDirectory()).toBe(true);
    await writeFile(ws.root, 'a/f', 'x', MAX);
    expect(await rejectionCode(mkdir(ws.root, 'a/f/g'))).toBe('FS_NOT_A_DIRECTORY');
  });

  it('lists by depth in sorted walk order, and stops at maxEntries', async () => {
    await mkdir(ws.root, 'src/lib');
    await writeFile(ws.root, 'src/a.ts', 'x', MAX);
    await writeFile(ws.root, 'src/lib/b.ts', 'x', MAX);
    await writeFile(ws.root, 'README.md', 'x', MAX);
    const top = await list(ws.root, '', { depth: 1, maxEntries: 100 });
    expect(top.entries.map((e) => [e.path, e.type])).toEqual([
      ['README.md', 'file'],
      ['src', 'directory'],
    ]);
    const all = await list(ws.root, '', { depth: 10, maxEntries: 100 });
    expect(all.entries.map((e) => e.path)).toEqual(['README.md', 'src', 'src/a.ts', 'src/lib', 'src/lib/b.ts']);
    const under = await list(ws.root, 'src', { depth: 1, maxEntries: 100 });
    expect(under.entries.map((e) => e.path)).toEqual(['src/a.ts', 'src/lib']);
    expect(await list(ws.root, '', { depth: 10, maxEntries: 2 })).toMatchObject({ truncated: true });
    expect(await rejectionCode(list(ws.root, 'README.md', { depth: 1, maxEntries: 2 }))).toBe('FS_NOT_A_DIRECTORY');
  });
});

describe('move and remove', () => {
  beforeEach(async () => {
    await mkdir(ws.root, 'd/e');
    await writeFile(ws.root, 'd/e/f.txt', 'f', MAX);
    await writeFile(ws.root, 'g.txt', 'g', MAX);
  });

  it('moves, and overwrites only when asked', async () => {
    expect(await rejectionCode(move(ws.root, 'g.txt', 'd/e/f.txt'))).toBe('FS_EXISTS');
    expect(await readHost(join(ws.root, 'd', 'e', 'f.txt'), 'utf8')).toBe('f');
    await move(ws.root, 'g.txt', 'd/e/f.txt', { overwrite: true });
    expect(await readHost(join(ws.root, 'd', 'e', 'f.txt'), 'utf8')).toBe('g');
    await move(ws.root, 'd/e', 'e2');
    expect(await readdir(join(ws.root, 'e2'))).toEqual(['f.txt']);
    expect(await rejectionCode(move(ws.root, 'nope', 'x'))).toBe('FS_NOT_FOUND');
    expect(await rejectionCode(move(ws.root, 'd', 'd/inside'))).toBe('FS_INVALID_PATH');
    expect(await rejectionCode(move(ws.root, '', 'x'))).toBe('FS_INVALID_PATH');
  });

  it('removes files, and directories only when recursive', async () => {
    expect(await rejectionCode(remove(ws.root, 'd'))).toBe('FS_NOT_A_FILE');
    await remove(ws.root, 'g.txt');
    await remove(ws.root, 'd', { recursive: true });
    expect(await readdir(ws.root)).toEqual([]);
    expect(await rejectionCode(remove(ws.root, 'd'))).toBe('FS_NOT_FOUND');
    expect(await rejectionCode(remove(ws.root, '/workspace/', { recursive: true }))).toBe('FS_INVALID_PATH');
  });
});

describe('a host workspace that has ended', () => {
  it('refuses calls and never makes its folder again', async () => {
    const base = await createTempWorkspace();
    const root = join(base.base, 'sandbox-ws');
    const host = createHostWorkspace(root);
    await host.write(parseWorkspacePath('a.txt'), Buffer.from('a'), MAX);
    await host.destroy();
    expect(await rejectionCode(host.write(parseWorkspacePath('b.txt'), Buffer.from('b'), MAX))).toBe('SANDBOX_FAILED');
    expect(await rejectionCode(host.list(parseWorkspacePath(''), { depth: 1, maxEntries: 1 }))).toBe('SANDBOX_FAILED');
    expect(await statHost(root).then(() => 'exists', () => 'gone')).toBe('gone');
    await base.cleanup();
  });
});

describe('a host workspace quota', () => {
  it('refuses a write past its bytes or entries with FS_TOO_LARGE, and writes nothing', async () => {
    const base = await createTempWorkspace();
    const host = createHostWorkspace(join(base.base, 'q'), { maxBytes: 10, maxEntries: 3 });
    await host.write(parseWorkspacePath('a'), Buffer.from('12345'), MAX);
    // Replacing a file counts its new size only.
    await host.write(parseWorkspacePath('a'), Buffer.from('1234567890'), MAX);
    const full = await host.write(parseWorkspacePath('b'), Buffer.from('x'), MAX).catch((e: { code: string; details: unknown }) => [e.code, e.details]);
    expect(full).toEqual(['FS_TOO_LARGE', { reason: 'workspace_full' }]);
    await host.write(parseWorkspacePath('a'), Buffer.from('1'), MAX);
    await host.mkdir(parseWorkspacePath('d'));
    await host.write(parseWorkspacePath('b'), Buffer.from('2'), MAX);
    const many = await host.mkdir(parseWorkspacePath('e')).catch((e: { code: string; details: unknown }) => [e.code, e.details]);
    expect(many).toEqual(['FS_TOO_LARGE', { reason: 'too_many_entries' }]);
    expect((await host.list(parseWorkspacePath(''), { depth: 1, maxEntries: 10 })).entries.map((e) => e.path)).toEqual(['a', 'b', 'd']);
    await base.cleanup();
  });
});

describe('a host workspace quota under racing writes', () => {
  it('counts writes racing each other against one another: the quota holds exactly', async () => {
    const base = await createTempWorkspace();
    const host = createHostWorkspace(join(base.base, 'race'), { maxBytes: 100, maxEntries: 1000 });
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => host.write(parseWorkspacePath(`f${i}`), Buffer.alloc(10, 'x'), MAX).then(() => 'ok', (e: { code: string }) => e.code)));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(10);
    expect(outcomes.filter((o) => o !== 'ok').every((o) => o === 'FS_TOO_LARGE')).toBe(true);
    expect((await host.list(parseWorkspacePath(''), { depth: 1, maxEntries: 100 })).entries).toHaveLength(10);
    await base.cleanup();
  });
});
