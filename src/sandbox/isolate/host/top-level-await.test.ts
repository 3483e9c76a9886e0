import { describe, expect, it } from 'vitest';
import { rewriteTopLevelAwait } from './top-level-await.ts';

// The rewrite is run by an indirect eval here only to check what the wrapped code does;
// in Cordon it is compiled inside an isolate.
async function evaluate(source: string): Promise<{ value: unknown; globals: Record<string, unknown> }> {
  const r = rewriteTopLevelAwait(source);
  if (!r.ok) throw new Error(r.error.message);
  const m = /^(var ([^;]+); )?(.*)$/s.exec(r.code);
  const names = m?.[2]?.split(', ') ?? [];
  const run = new Function(`${m?.[1] ?? ''}return ${m?.[3] ?? ''}.then((v) => [v, { ${names.join(', ')} }]);`) as () => Promise<[unknown, Record<string, unknown>]>;
  const [value, globals] = await run();
  return { value, globals };
}

describe('rewriteTopLevelAwait', () => {
  it.each([
    ['an awaited expression', 'await 41 + 1', 42, {}],
    ['const and let become globals', 'const a = await 1;\nlet b = 2;\na + b', 3, { a: 1, b: 2 }],
    ['destructuring', 'const { x, y: [z] } = await { x: 1, y: [2] };\nx + z', 3, { x: 1, z: 2 }],
    ['rest and defaults', 'const [p = 5, ...q] = await [undefined, 1, 2];\nq.length + p', 7, { p: 5 }],
    ['functions and classes', 'function f() { return 2 }\nclass C { v() { return 3 } }\nawait f() + new C().v()', 5, {}],
    ['no final expression', 'await 1;\nconst k = 9;', undefined, { k: 9 }],
    ['a trailing line comment', 'await 7 // seven', 7, {}],
  ])('%s', async (_name, source, value, globals) => {
    const r = await evaluate(source);
    expect(r.value).toEqual(value);
    expect(r.globals).toMatchObject(globals);
  });

  it('keeps line numbers: only the first line moves, by the reported offset', () => {
    const r = rewriteTopLevelAwait('await 1;\nnull.x');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.code.split('\n')[1]).toBe('return (null.x);');
  });

  it.each([
    ['a syntax error', 'await 1;\nlet = ;', 2],
    ['an unterminated string', 'await "x', 1],
  ])('reports %s with its position', (_name, source, line) => {
    const r = rewriteTopLevelAwait(source);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ name: 'SyntaxError', line });
  });

  it('refuses source nested too deeply to parse, without throwing', () => {
    const r = rewriteTopLevelAwait('await 1;\n' + '('.repeat(200_000) + '1' + ')'.repeat(200_000));
    expect(r.ok).toBe(false);
  });
});
