import { describe, expect, it } from 'vitest';
import { byteToCharOffset, positionAt, splitPolicyStatements } from './policy-source.ts';

describe('splitting .cedar files into statements', () => {
  it('ignores semicolons in comments and strings', () => {
    const text = [
      '// header; with "a quote',
      '@id("a;b") permit (principal, action, resource) when { resource.path like "*;*" }; // trailing; comment',
      '',
      '@id("c") forbid (principal, action, resource) when { resource.path == "esc\\";aped" };',
    ].join('\n');
    const statements = splitPolicyStatements(text);
    expect(statements.map((s) => s.text)).toEqual([
      '@id("a;b") permit (principal, action, resource) when { resource.path like "*;*" };',
      '@id("c") forbid (principal, action, resource) when { resource.path == "esc\\";aped" };',
    ]);
    expect(positionAt(text, statements[1]?.offset ?? -1)).toEqual({ line: 4, column: 1 });
    expect(statements.map((s) => s.line)).toEqual([2, 4]);
  });

  it('counts lines inside multi-line strings and comments', () => {
    const text = '@id("a") permit (principal, action, resource) when { resource.path == "x\ny" };\n// c;\n\n@id("b") permit (principal, action, resource);';
    expect(splitPolicyStatements(text).map((s) => s.line)).toEqual([1, 5]);
  });

  it('keeps trailing text without a semicolon, so the parser reports it', () => {
    expect(splitPolicyStatements('@id("a") permit (principal, action, resource);\n@id("b") permit (')).toHaveLength(2);
    expect(splitPolicyStatements('// only a comment\n\n')).toEqual([]);
  });

  it('converts Cedar byte offsets to character offsets', () => {
    expect(byteToCharOffset('é🚀x', 0)).toBe(0);
    expect(byteToCharOffset('é🚀x', 2)).toBe(1);
    expect(byteToCharOffset('é🚀x', 6)).toBe(3);
  });
});
