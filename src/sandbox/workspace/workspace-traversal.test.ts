import { lstat, mkdir as mkdirHost, readFile as readHost, readdir, rename, symlink, writeFile as writeHost } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CANARY_TEXT, createTempWorkspace, type TempWorkspace } from '../../../test/support/temp-workspace.ts';
import { rejectionCode } from '../../../test/support/cordon-errors.ts';
import { fdPath, openParent, closeParent, verifyHandle } from './workspace-dir.ts';
import { mkdir, readFile, stat, writeFile } from './workspace-fs.ts';
import { parseWorkspacePath } from './workspace-path.ts';
import { list, move, remove } from './workspace-tree.ts';

const MAX = { maxBytes: 1 << 20 };
let ws: TempWorkspace;

beforeEach(async () => {
  ws = await createTempWorkspace();
  await mkdirHost(join(ws.root, 'sub'));
  await writeHost(join(ws.root, 'sub', 'inner.txt'), 'inner\n');
  await symlink(ws.outside, join(ws.root, 'link-out')); // directory link leaving the workspace
  await symlink(ws.canary, join(ws.root, 'file-out')); // file link leaving the workspace
  await symlink('sub', join(ws.root, 'link-in')); // directory link staying inside
  await symlink('sub/inner.txt', join(ws.root, 'file-in')); // file link staying inside
});

afterEach(async () => {
  await ws.cleanup();
});

async function expectOutsideUntouched(): Promise<void> {
  expect(await ws.outsideSnapshot()).toEqual({ entries: ['canary.txt'], canary: CANARY_TEXT });
}

describe('hostile path strings never reach outside the workspace', () => {
  const outsidePaths = ['..', '../outside/canary.txt', 'sub/../../outside/canary.txt', '/workspace/../outside/canary.txt', '/etc/passwd'];
  it.each(outsidePaths)('read, write, list, mkdir, move and remove of %j are refused', async (path) => {
    expect(await rejectionCode(readFile(ws.root, path, MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(writeFile(ws.root, path, 'pwned', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(list(ws.root, path, { depth: 1, maxEntries: 10 }))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(mkdir(ws.root, path))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(move(ws.root, 'sub/inner.txt', path))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(remove(ws.root, path, { recursive: true }))).toBe('FS_OUTSIDE_WORKSPACE');
    await expectOutsideUntouched();
  });

  it('refuses the host path of the canary itself', async () => {
    expect(await rejectionCode(readFile(ws.root, ws.canary, MAX))).toBe('FS_OUTSIDE_WORKSPACE');
  });

  it.each([
    ['NUL', 'sub/inner.txt\0../../outside/canary.txt'],
    ['very long', `${'a/'.repeat(600)}x`],
    ['backslash', '..\\outside\\canary.txt'],
  ])('%s paths are refused as invalid', async (_name, path) => {
    expect(await rejectionCode(readFile(ws.root, path, MAX))).toBe('FS_INVALID_PATH');
    expect(await rejectionCode(writeFile(ws.root, path, 'x', MAX))).toBe('FS_INVALID_PATH');
    await expectOutsideUntouched();
  });

  it.each(['%2e%2e', '\u2025', '\uff0e\uff0e', '..%2f'])('%j is a literal name inside the workspace', async (dots) => {
    await mkdir(ws.root, `${dots}/outside`);
    await writeFile(ws.root, `${dots}/outside/canary.txt`, 'inside', MAX);
    expect(await readHost(join(ws.root, dots, 'outside', 'canary.txt'), 'utf8')).toBe('inside');
    expect((await readFile(ws.root, `/workspace/${dots}/outside/canary.txt`, MAX)).content.toString()).toBe('inside');
    await expectOutsideUntouched();
  });
});

describe('a symlink inside pointing outside', () => {
  it('is refused as a parent by every operation', async () => {
    expect(await rejectionCode(readFile(ws.root, 'link-out/canary.txt', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(writeFile(ws.root, 'link-out/canary.txt', 'pwned', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(writeFile(ws.root, 'link-out/new.txt', 'pwned', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(stat(ws.root, 'link-out/canary.txt'))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(list(ws.root, 'link-out', { depth: 1, maxEntries: 10 }))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(mkdir(ws.root, 'link-out/x'))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(mkdir(ws.root, 'link-out'))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(move(ws.root, 'sub/inner.txt', 'link-out/stolen.txt'))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(move(ws.root, 'link-out/canary.txt', 'taken.txt'))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(remove(ws.root, 'link-out/canary.txt'))).toBe('FS_OUTSIDE_WORKSPACE');
    await expectOutsideUntouched();
    expect(await readHost(join(ws.root, 'sub', 'inner.txt'), 'utf8')).toBe('inner\n');
  });

  it('is refused as the final name when read or edited', async () => {
    expect(await rejectionCode(readFile(ws.root, 'file-out', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    await expectOutsideUntouched();
  });

  it('is replaced, not followed, when written as the final name', async () => {
    await writeFile(ws.root, 'file-out', 'new', MAX);
    expect((await lstat(join(ws.root, 'file-out'))).isFile()).toBe(true);
    await expectOutsideUntouched();
  });

  it('is listed as a symlink and not descended into', async () => {
    const { entries } = await list(ws.root, '', { depth: 5, maxEntries: 100 });
    expect(entries.find((e) => e.path === 'link-out')?.type).toBe('symlink');
    expect(entries.map((e) => e.path)).not.toContain('link-out/canary.txt');
    expect(await stat(ws.root, 'link-out')).toMatchObject({ type: 'symlink' });
  });

  it('is removed as a link, recursive or not, leaving its target alone', async () => {
    await remove(ws.root, 'link-out', { recursive: true });
    await remove(ws.root, 'file-out');
    expect(await readdir(ws.root)).not.toContain('link-out');
    await expectOutsideUntouched();
  });

  it('is moved as a link', async () => {
    await move(ws.root, 'link-out', 'moved-link');
    expect((await lstat(join(ws.root, 'moved-link'))).isSymbolicLink()).toBe(true);
    await expectOutsideUntouched();
  });
});

describe('a symlink inside pointing inside', () => {
  // Refused too: its target means one thing on the host and another in the sandbox,
  // and one rule ("no symlinks on the way") leaves no retargeting race to reason about.
  it('is refused like any other symlink on the way', async () => {
    expect(await rejectionCode(readFile(ws.root, 'link-in/inner.txt', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(readFile(ws.root, 'file-in', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(writeFile(ws.root, 'link-in/new.txt', 'x', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect((await readFile(ws.root, 'sub/inner.txt', MAX)).content.toString()).toBe('inner\n');
  });
});

describe('a directory swapped for a symlink', () => {
  async function swapSubForOutsideLink(): Promise<void> {
    await rename(join(ws.root, 'sub'), join(ws.root, 'sub-old'));
    await symlink(ws.outside, join(ws.root, 'sub'));
  }

  it('after an earlier call is refused on the next one', async () => {
    expect((await readFile(ws.root, 'sub/inner.txt', MAX)).content.toString()).toBe('inner\n');
    await swapSubForOutsideLink();
    expect(await rejectionCode(readFile(ws.root, 'sub/canary.txt', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(writeFile(ws.root, 'sub/canary.txt', 'pwned', MAX))).toBe('FS_OUTSIDE_WORKSPACE');
    await expectOutsideUntouched();
  });

  it('between opening the parent and using it: the descriptor stays on the real directory and verification notices the move', async () => {
    const parent = await openParent(ws.root, parseWorkspacePath('sub/inner.txt'));
    try {
      await swapSubForOutsideLink();
      // What an operation does next goes through the descriptor, i.e. into the directory it opened.
      await writeHost(fdPath(parent.dir, 'after-swap.txt'), 'still inside');
      expect(await readHost(join(ws.root, 'sub-old', 'after-swap.txt'), 'utf8')).toBe('still inside');
      await expectOutsideUntouched();
      // And re-verification reports that the directory is no longer where the path said.
      const check = verifyHandle(parent.root.real, parent.dir, 'sub/inner.txt', `${parent.root.real}/sub`);
      expect(await rejectionCode(check)).toBe('FS_OUTSIDE_WORKSPACE');
    } finally {
      await closeParent(parent);
    }
  });

  it('over and over while writes run never lets a write land outside', async () => {
    let swapping = true;
    const swapper = (async () => {
      for (let i = 0; swapping && i < 500; i += 1) {
        await swapSubForOutsideLink();
        await rename(join(ws.root, 'sub'), join(ws.root, 'sub-link'));
        await rename(join(ws.root, 'sub-old'), join(ws.root, 'sub'));
        await rename(join(ws.root, 'sub-link'), join(ws.root, `gone-${i}`));
      }
    })();
    const codes = new Set<string>();
    for (let i = 0; i < 200; i += 1) {
      const code = await rejectionCode(writeFile(ws.root, `sub/w-${i}.txt`, 'x', MAX));
      codes.add(code ?? 'ok');
    }
    swapping = false;
    await swapper;
    expect([...codes].filter((c) => !['ok', 'FS_OUTSIDE_WORKSPACE', 'FS_NOT_FOUND', 'FS_NOT_A_DIRECTORY'].includes(c))).toEqual([]);
    await expectOutsideUntouched();
  });
});
