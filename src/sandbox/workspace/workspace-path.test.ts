import { describe, expect, it } from 'vitest';
import { parseWorkspacePath, workspaceResourcePath } from './workspace-path.ts';

function codeOf(input: unknown): string | undefined {
  try {
    parseWorkspacePath(input);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('parseWorkspacePath', () => {
  it.each([
    ['a/b.txt', 'a/b.txt'],
    ['./a//b/./c', 'a/b/c'],
    ['/workspace/a/b', 'a/b'],
    ['/workspace', ''],
    ['/workspace/', ''],
    ['', ''],
    ['.', ''],
    ['a/', 'a'],
    ['%2e%2e/x', '%2e%2e/x'],
    ['\u2025/x', '\u2025/x'],
    ['\uff0e\uff0e/x', '\uff0e\uff0e/x'],
    ['...', '...'],
    ['..a/b..', '..a/b..'],
  ])('%j is %j inside the workspace', (input, relative) => {
    expect(parseWorkspacePath(input).relative).toBe(relative);
  });

  it.each([
    ['..', 'FS_OUTSIDE_WORKSPACE'],
    ['a/../../x', 'FS_OUTSIDE_WORKSPACE'],
    ['a/..', 'FS_OUTSIDE_WORKSPACE'],
    ['/etc/passwd', 'FS_OUTSIDE_WORKSPACE'],
    ['/workspace/../x', 'FS_OUTSIDE_WORKSPACE'],
    ['/workspacex/y', 'FS_OUTSIDE_WORKSPACE'],
    ['//workspace/x', 'FS_OUTSIDE_WORKSPACE'],
    ['a/\0/b', 'FS_INVALID_PATH'],
    ['a\nb', 'FS_INVALID_PATH'],
    ['a\u0085b', 'FS_INVALID_PATH'],
    // Bidirectional overrides and isolates: a name that reads differently from what it is.
    ['invoice\u202egpj.exe', 'FS_INVALID_PATH'],
    ['a\u2066b', 'FS_INVALID_PATH'],
    ['a\u200fb', 'FS_INVALID_PATH'],
    ['a\\b', 'FS_INVALID_PATH'],
    ['..\\x', 'FS_INVALID_PATH'],
    ['x'.repeat(1025), 'FS_INVALID_PATH'],
    ['é'.repeat(513), 'FS_INVALID_PATH'],
    ['x'.repeat(256), 'FS_INVALID_PATH'],
    [Array.from({ length: 65 }, () => 'd').join('/'), 'FS_INVALID_PATH'],
    [42, 'FS_INVALID_PATH'],
  ])('%j is refused with %s', (input, code) => {
    expect(codeOf(input)).toBe(code);
  });

  it('accepts the limits themselves', () => {
    expect(parseWorkspacePath('x'.repeat(255)).components).toHaveLength(1);
    expect(parseWorkspacePath(Array.from({ length: 64 }, () => 'd').join('/')).components).toHaveLength(64);
  });

  it('gives policy the canonical /workspace path', () => {
    expect(workspaceResourcePath(parseWorkspacePath('./drafts//a.md'))).toBe('/workspace/drafts/a.md');
    expect(workspaceResourcePath(parseWorkspacePath('/workspace/drafts/'))).toBe('/workspace/drafts');
    expect(workspaceResourcePath(parseWorkspacePath(''))).toBe('/workspace');
  });
});
