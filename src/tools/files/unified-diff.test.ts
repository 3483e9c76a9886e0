import { describe, expect, it } from 'vitest';
import { thrownCordonError } from '../../../test/support/cordon-errors.ts';
import { applyUnifiedDiff } from './unified-diff.ts';

const FILE = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', ''].join('\n');

describe('applyUnifiedDiff', () => {
  it('applies hunks with headers and context', () => {
    const diff = ['--- a/f.txt', '+++ b/f.txt', '@@ -1,3 +1,3 @@', ' one', '-two', '+TWO', ' three', '@@ -8,3 +8,4 @@', ' eight', ' nine', '+nine and a half', ' ten', ''].join('\n');
    expect(applyUnifiedDiff(FILE, diff)).toBe(FILE.replace('two', 'TWO').replace('nine\n', 'nine\nnine and a half\n'));
  });

  it('finds a hunk whose header line number is off, as patch does', () => {
    const diff = ['@@ -2,2 +2,2 @@', ' five', '-six', '+SIX'].join('\n');
    expect(applyUnifiedDiff(FILE, diff)).toBe(FILE.replace('six', 'SIX'));
  });

  it('inserts into an empty file and handles "No newline at end of file"', () => {
    expect(applyUnifiedDiff('', '@@ -0,0 +1,2 @@\n+a\n+b\n')).toBe('a\nb\n');
    const drop = ['@@ -10,1 +10,1 @@', '-ten', '+TEN', '\\ No newline at end of file'].join('\n');
    expect(applyUnifiedDiff(FILE, drop)).toBe(FILE.replace('ten\n', 'TEN'));
    const add = ['@@ -1,1 +1,1 @@', '-x', '\\ No newline at end of file', '+x'].join('\n');
    expect(applyUnifiedDiff('x', add)).toBe('x\n');
  });

  it('names the first hunk that does not apply', () => {
    const diff = ['@@ -1,2 +1,2 @@', ' one', '-two', '+2', '@@ -5,2 +5,2 @@', ' five', '-SIX', '+6'].join('\n');
    expect(thrownCordonError(() => applyUnifiedDiff(FILE, diff))).toMatchObject({ code: 'FS_EDIT_CONFLICT', details: { hunk: 2, header: '@@ -5,2 +5,2 @@' } });
  });

  it('refuses hunks out of order and a missing end-of-file newline the file does not have', () => {
    const backwards = ['@@ -5,1 +5,1 @@', '-five', '+5', '@@ -1,1 +1,1 @@', '-one', '+1'].join('\n');
    expect(thrownCordonError(() => applyUnifiedDiff(FILE, backwards))).toMatchObject({ code: 'FS_EDIT_CONFLICT', details: { hunk: 2 } });
    const noEol = ['@@ -10,1 +10,1 @@', '-ten', '\\ No newline at end of file', '+TEN'].join('\n');
    expect(thrownCordonError(() => applyUnifiedDiff(FILE, noEol)).code).toBe('FS_EDIT_CONFLICT');
  });

  it.each([
    ['no hunks', 'just some text\n'],
    ['a short hunk', '@@ -1,3 +1,3 @@\n one\n'],
    ['a bad line', '@@ -1,1 +1,1 @@\n*one\n'],
    ['two files', '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-one\n+1\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-one\n+1\n'],
  ])('refuses a malformed diff (%s) as INPUT_INVALID', (_name, diff) => {
    expect(thrownCordonError(() => applyUnifiedDiff(FILE, diff)).code).toBe('INPUT_INVALID');
  });
});
