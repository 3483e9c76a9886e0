import { describe, expect, it } from 'vitest';
import { compileGlob } from './glob.ts';

describe('compileGlob', () => {
  it.each<[string, string, boolean]>([
    ['*.ts', 'a.ts', true],
    ['*.ts', 'src/a.ts', false],
    ['**/*.ts', 'a.ts', true],
    ['**/*.ts', 'src/lib/a.ts', true],
    ['src/**', 'src', true],
    ['src/**', 'src/a/b', true],
    ['src/**/b.ts', 'src/b.ts', true],
    ['src/**/b.ts', 'src/x/y/b.ts', true],
    ['src/*/b.ts', 'src/x/y/b.ts', false],
    ['?.md', 'a.md', true],
    ['?.md', 'ab.md', false],
    ['.env*', '.env.local', true],
    ['a.(ts|js)', 'a.ts', false],
    ['a.(ts|js)', 'a.(ts|js)', true],
    ['[ab].txt', 'a.txt', false],
    ['a**b', 'axxb', true],
    ['', '', true],
    ['**', 'any/thing/at/all', true],
  ])('%j against %j is %s', (pattern, path, expected) => {
    expect(compileGlob(pattern)(path)).toBe(expected);
  });

  it('a pattern built to backtrack answers at once, on the longest path', () => {
    const path = `${'a/'.repeat(300)}${'a'.repeat(200)}`;
    const hostile = `${'**/'.repeat(40)}${'*a'.repeat(40)}b`;
    // With a backtracking regular expression this takes longer than the universe has; here it must simply answer.
    expect(compileGlob(hostile)(path)).toBe(false);
    expect(compileGlob(`${'*a'.repeat(100)}*`)('a'.repeat(1000))).toBe(true);
  });
});
