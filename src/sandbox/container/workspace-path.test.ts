import { describe, expect, it } from 'vitest';
import { isInside, normaliseWorkspacePath, parentsOf } from './workspace-path.ts';

describe('workspace paths', () => {
  it.each([
    ['a/b.txt', 'a/b.txt'],
    ['./a/./b.txt', 'a/b.txt'],
    ['././a//b/', 'a/b'],
    ['.', ''],
    ['', ''],
    ['dir\\with\\backslashes', 'dir\\with\\backslashes'],
    ['é/ü', 'é/ü'],
  ])('normalises %j to %j', (raw, path) => {
    expect(normaliseWorkspacePath(raw)).toMatchObject({ ok: true, path });
  });

  it.each([
    ['/etc/passwd', 'absolute'],
    ['../x', 'parent_reference'],
    ['a/../../x', 'parent_reference'],
    ['a/..', 'parent_reference'],
    ['a\0b', 'nul'],
    ['\ud800', 'not_utf8'],
    [`${'d/'.repeat(64)}f`, 'too_deep'],
    ['n'.repeat(256), 'component_too_long'],
    ['é'.repeat(128), 'component_too_long'],
    [`${'d'.repeat(255)}/`.repeat(4) + 'f', 'path_too_long'],
  ])('refuses %j (%s)', (raw, reason) => {
    expect(normaliseWorkspacePath(raw)).toMatchObject({ ok: false, reason });
  });

  it('names the directories above a path, and what is inside what', () => {
    expect(parentsOf('a/b/c')).toEqual(['a', 'a/b']);
    expect(parentsOf('a')).toEqual([]);
    expect(isInside('src/a', 'src')).toBe(true);
    expect(isInside('src', 'src')).toBe(true);
    expect(isInside('srcx/a', 'src')).toBe(false);
    expect(isInside('anything', '')).toBe(true);
  });
});
