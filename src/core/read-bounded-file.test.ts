import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBoundedTextFile } from './read-bounded-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'cordon-bounded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readBoundedTextFile: what an operator (or an attacker with the folder) may leave where policies are read', () => {
  it('reads a regular file, and one behind a symlink', () => {
    writeFileSync(join(dir, 'a.txt'), 'héllo');
    symlinkSync(join(dir, 'a.txt'), join(dir, 'link.txt'));
    expect(readBoundedTextFile(join(dir, 'a.txt'), 16)).toEqual({ text: 'héllo' });
    expect(readBoundedTextFile(join(dir, 'link.txt'), 16)).toEqual({ text: 'héllo' });
  });

  it.each([
    ['a file over the limit', () => writeFileSync(join(dir, 'big'), 'x'.repeat(17)), 'big', /is 17 bytes, over the 16-byte limit/],
    ['a symlink to /dev/zero', () => symlinkSync('/dev/zero', join(dir, 'zero')), 'zero', /not a regular file/],
    ['a FIFO (no writer: opening it must not hang)', () => execFileSync('mkfifo', [join(dir, 'fifo')]), 'fifo', /not a regular file/],
    ['a directory', () => execFileSync('mkdir', [join(dir, 'sub')]), 'sub', /not a regular file/],
    ['a missing file', () => undefined, 'missing', /cannot read: ENOENT/],
    ['bytes that are not UTF-8', () => writeFileSync(join(dir, 'latin1'), Buffer.from([0xff, 0xfe, 0x41])), 'latin1', /not valid UTF-8/],
  ])('refuses %s with a reason, never throwing', (_name, make, name, reason) => {
    make();
    const read = readBoundedTextFile(join(dir, name), 16);
    expect(read).toEqual({ reason: expect.stringMatching(reason) });
  });
});
