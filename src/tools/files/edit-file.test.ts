import { readFile as readHost, readdir, stat as statHost, writeFile as writeHost } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempWorkspace, type TempWorkspace } from '../../../test/support/temp-workspace.ts';
import { createHostWorkspace, parseWorkspacePath, type HostWorkspace } from '../../sandbox/index.ts';
import { editFile, type FileEdit } from './edit-file.ts';

const ORIGINAL = 'alpha\nbeta\nbeta\ngamma\n';
let ws: TempWorkspace;
let file: string;
let host: HostWorkspace;

beforeEach(async () => {
  ws = await createTempWorkspace();
  file = join(ws.root, 'notes.txt');
  host = createHostWorkspace(ws.root);
  await writeHost(file, ORIGINAL);
});

afterEach(async () => {
  await ws.cleanup();
});

describe('editFile', () => {
  it('applies a replace and a diff, then writes atomically', async () => {
    await editFile(host, parseWorkspacePath('notes.txt'), { kind: 'replace', search: 'alpha', replace: 'ALPHA' }, { maxBytes: 1000 });
    await editFile(host, parseWorkspacePath('/workspace/notes.txt'), { kind: 'diff', diff: '@@ -4 +4 @@\n-gamma\n+GAMMA\n' }, { maxBytes: 1000 });
    expect(await readHost(file, 'utf8')).toBe('ALPHA\nbeta\nbeta\nGAMMA\n');
    expect(await readdir(ws.root)).toEqual(['notes.txt']);
  });

  it.each<[string, FileEdit, string]>([
    ['no match', { kind: 'replace', search: 'delta', replace: 'x' }, 'FS_EDIT_NO_MATCH'],
    ['ambiguous', { kind: 'replace', search: 'beta', replace: 'x' }, 'FS_EDIT_AMBIGUOUS'],
    ['conflicting diff', { kind: 'diff', diff: '@@ -1,2 +1,2 @@\n alpha\n-BETA\n+b\n' }, 'FS_EDIT_CONFLICT'],
    ['malformed diff', { kind: 'diff', diff: 'nonsense' }, 'INPUT_INVALID'],
  ])('a failed edit (%s) leaves the file byte-identical', async (_name, edit, code) => {
    const before = await statHost(file);
    await expect(editFile(host, parseWorkspacePath('notes.txt'), edit, { maxBytes: 1000 })).rejects.toMatchObject({ code });
    expect(await readHost(file, 'utf8')).toBe(ORIGINAL);
    expect((await statHost(file)).ino).toBe(before.ino); // not even replaced by an identical copy
    expect(await readdir(ws.root)).toEqual(['notes.txt']);
  });

  it('refuses files over the limit and files that are not UTF-8, unchanged', async () => {
    await expect(editFile(host, parseWorkspacePath('notes.txt'), { kind: 'replace', search: 'alpha', replace: 'a' }, { maxBytes: 5 })).rejects.toMatchObject({
      code: 'FS_TOO_LARGE',
    });
    await writeHost(join(ws.root, 'bin.dat'), Buffer.from([0x61, 0xff, 0x62]));
    await expect(editFile(host, parseWorkspacePath('bin.dat'), { kind: 'replace', search: 'a', replace: 'c' }, { maxBytes: 100 })).rejects.toMatchObject({
      code: 'INPUT_INVALID',
    });
    expect(await readHost(join(ws.root, 'bin.dat'))).toEqual(Buffer.from([0x61, 0xff, 0x62]));
    expect(await readHost(file, 'utf8')).toBe(ORIGINAL);
  });
});
