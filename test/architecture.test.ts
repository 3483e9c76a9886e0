import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frontDoorViolations, layerOf, layerViolations, scanImports, type FrontDoorException, type SourceTree } from './support/import-graph.ts';

// Dependencies point one way: a layer may import its own folder and any layer
// with a lower rank, never a higher one (see docs/architecture.md, "Layout").
// cli sits above api because `cordon serve` starts the API; api never imports cli.
const RANK: Record<string, number> = {
  core: 0,
  config: 1,
  identity: 2,
  policy: 2,
  audit: 2,
  approvals: 3,
  egress: 3,
  sandbox: 4,
  tools: 5,
  runner: 6,
  api: 7,
  client: 7,
  cli: 8,
};

/**
 * Imports from outside a folder into its internals, each for a reason. Keep it
 * short: an entry is a debt, and one that no longer matches fails the test.
 */
const FRONT_DOOR_EXCEPTIONS: readonly FrontDoorException[] = [];

const ROOT = resolve(import.meta.dirname, '..');

/**
 * The client (src/client) is shipped to agent frameworks as `import { Cordon } from 'cordon'`:
 * it must not drag the server in. From src/ it imports only its own folder and the error-code
 * table; of packages, only undici, jose and Node's own modules.
 */
const CLIENT_ALLOWED_SRC = new Set(['src/core/errors.ts', 'src/core/json-depth.ts']);
const CLIENT_ALLOWED_PACKAGES = new Set(['undici', 'jose']);

function clientViolations(tree: SourceTree): string[] {
  return Object.entries(tree)
    .filter(([file]) => file.startsWith('src/client/') && !file.endsWith('.test.ts'))
    .flatMap(([file, text]) =>
      scanImports(file, text).flatMap((edge) => {
        const spec = edge.specifier;
        if (spec === undefined) return [`${file}:${edge.line} computed import()`];
        if (spec.startsWith('.')) {
          const target = posix.normalize(posix.join(posix.dirname(file), spec));
          return target.startsWith('src/client/') || CLIENT_ALLOWED_SRC.has(target) ? [] : [`${file}:${edge.line} imports ${target}`];
        }
        return spec.startsWith('node:') || CLIENT_ALLOWED_PACKAGES.has(spec) ? [] : [`${file}:${edge.line} imports package ${spec}`];
      }),
    );
}

/** Every .ts file under the given repo-relative folders, by repo-relative path. */
function readTree(...dirs: string[]): SourceTree {
  const walk = (dir: string): string[] =>
    readdirSync(join(ROOT, dir)).flatMap((name) => {
      const path = `${dir}/${name}`;
      if (statSync(join(ROOT, path)).isDirectory()) return walk(path);
      return path.endsWith('.ts') ? [path] : [];
    });
  return Object.fromEntries(dirs.flatMap(walk).map((path) => [path, readFileSync(join(ROOT, path), 'utf8')]));
}

describe('import graph', () => {
  const tree = readTree('src', 'test', 'bench');
  const srcFiles = Object.keys(tree).filter((f) => f.startsWith('src/'));
  const srcTree = Object.fromEntries(srcFiles.map((f) => [f, tree[f] ?? '']));

  it('knows every top-level folder under src/', () => {
    const unknown = srcFiles.filter((f) => {
      const layer = layerOf(f);
      return layer === undefined || !(layer in RANK);
    });
    expect(unknown).toEqual([]);
  });

  it('has no import, export-from or import() from a higher layer, or from api into cli', () => {
    expect(layerViolations(srcTree, RANK)).toEqual([]);
  });

  it('enters a folder that has an index.ts only through it, from src/, test/ and bench/', () => {
    const { violations, unusedExceptions } = frontDoorViolations(tree, FRONT_DOOR_EXCEPTIONS);
    expect(violations).toEqual([]);
    expect(unusedExceptions, 'exceptions that no longer match an import; remove them').toEqual([]);
  });

  it('keeps the client standalone: only its own folder, core/errors.ts and core/json-depth.ts, undici, jose and node: modules', () => {
    expect(Object.keys(srcTree).some((f) => f.startsWith('src/client/'))).toBe(true);
    expect(clientViolations(srcTree)).toEqual([]);
  });

  it('reads process.env only in config/ and cli/', () => {
    const offenders = srcFiles.filter((f) => !f.endsWith('.test.ts') && !['config', 'cli'].includes(layerOf(f) ?? '') && /process\.env/.test(tree[f] ?? ''));
    expect(offenders).toEqual([]);
  });
});

// The checks above pass only if they can fail: each rule below is shown a
// synthetic tree with one violation and must report exactly that one.
describe('import scanner', () => {
  it.each([
    ["import { a } from './a.ts';", 'import', './a.ts'],
    ["import './side-effect.ts';", 'import', './side-effect.ts'],
    ["import type { A } from './a.ts';", 'import type', './a.ts'],
    ["import { type A } from './a.ts';", 'import', './a.ts'],
    ["export * from './a.ts';", 'export from', './a.ts'],
    ["export * as a from './a.ts';", 'export from', './a.ts'],
    ["export { a } from './a.ts';", 'export from', './a.ts'],
    ["export type { A } from './a.ts';", 'export from', './a.ts'],
    ["const a = await import('./a.ts');", 'import()', './a.ts'],
    ['const a = await import(`./a.ts`);', 'import()', './a.ts'],
    ["const [a] = await Promise.all([import('./a.ts')]);", 'import()', './a.ts'],
    ["const a = await import('./' + name);", 'import()', undefined],
    ['const a = await import(`./${name}.ts`);', 'import()', undefined],
    ["type A = import('./a.ts').A;", 'import type()', './a.ts'],
  ])('finds %s', (text, kind, specifier) => {
    expect(scanImports('x.ts', text).map((e) => [e.kind, e.specifier])).toEqual([[kind, specifier]]);
  });

  it.each([
    "// import { a } from './a.ts';",
    "/* export * from './a.ts'; */",
    "const source = \"import('./a.ts')\";",
    "const source = `export * from './a.ts'`;",
  ])('ignores a mention in a comment or string: %s', (text) => {
    expect(scanImports('x.ts', text)).toEqual([]);
  });

  it('reports the line of each import', () => {
    expect(scanImports('x.ts', "import './a.ts';\n\nexport * from './b.ts';\n").map((e) => e.line)).toEqual([1, 3]);
  });
});

describe('layer rule', () => {
  const RULE_RANK = { core: 0, egress: 3, runner: 6, api: 7, cli: 8 };
  const base: SourceTree = { 'src/core/errors.ts': '', 'src/runner/runner.ts': '', 'src/cli/main.ts': '', 'src/egress/index.ts': '' };

  it.each([
    ['a static import of a higher layer', 'src/egress/x.ts', "import { r } from '../runner/runner.ts';"],
    ['an import type of a higher layer', 'src/egress/x.ts', "import type { R } from '../runner/runner.ts';"],
    ['a dynamic import of a higher layer', 'src/egress/x.ts', "const { r } = await import('../runner/runner.ts');"],
    ['a template-literal dynamic import of a higher layer', 'src/egress/x.ts', 'const { r } = await import(`../runner/runner.ts`);'],
    ['an export-from of a higher layer', 'src/egress/x.ts', "export * from '../runner/runner.ts';"],
    ['a type-position import() of a higher layer', 'src/egress/x.ts', "type R = import('../runner/runner.ts').R;"],
    ['an import between equal ranks above', 'src/api/x.ts', "import { main } from '../cli/main.ts';"],
    ['an import() whose specifier is computed', 'src/egress/x.ts', "const m = await import('../' + layer + '/runner.ts');"],
    ['an import of an unranked folder', 'src/egress/x.ts', "import { z } from '../unranked/z.ts';"],
  ])('catches %s', (_name, file, text) => {
    expect(layerViolations({ ...base, [file]: text }, RULE_RANK)).toEqual([expect.stringContaining(`${file}:1 `)]);
  });

  it.each([
    ['a lower layer', 'src/runner/x.ts', "import { e } from '../core/errors.ts';"],
    ['a lower layer dynamically', 'src/cli/x.ts', "const { r } = await import('../runner/runner.ts');"],
    ['its own folder', 'src/egress/x.ts', "export * from './index.ts';"],
    ['a package', 'src/core/x.ts', "import { z } from 'yaml'; const fs = await import('node:fs');"],
    ['anything, from outside src/', 'test/x.test.ts', "import { main } from '../src/cli/main.ts';"],
  ])('allows %s', (_name, file, text) => {
    expect(layerViolations({ ...base, [file]: text }, RULE_RANK)).toEqual([]);
  });
});

describe('client rule', () => {
  it.each([
    ['a lower layer other than the error table', "import { newId } from '../core/ids.ts';", 'imports src/core/ids.ts'],
    ['the runner, as a type', "import type { Runner } from '../runner/runner.ts';", 'imports src/runner/runner.ts'],
    ['a server package', "import Fastify from 'fastify';", 'imports package fastify'],
    ['a computed import()', "const m = await import('../' + name);", 'computed import()'],
  ])('catches %s', (_name, text, message) => {
    expect(clientViolations({ 'src/client/x.ts': text })).toEqual([`src/client/x.ts:1 ${message}`]);
  });

  it('allows its own folder, the error table, undici, jose and node: modules', () => {
    const text = "import { a } from './a.ts';\nimport type { ErrorCode } from '../core/errors.ts';\nimport { Pool } from 'undici';\nimport { SignJWT } from 'jose';\nimport { randomUUID } from 'node:crypto';";
    expect(clientViolations({ 'src/client/x.ts': text })).toEqual([]);
  });
});

describe('front-door rule', () => {
  const base: SourceTree = {
    'src/core/errors.ts': '',
    'src/egress/index.ts': "export * from './guarded-fetch.ts';",
    'src/egress/guarded-fetch.ts': '',
    'src/sandbox/index.ts': "export * from './profiles/index.ts';",
    'src/sandbox/isolate/isolate-backend.ts': '',
    'src/sandbox/profiles/index.ts': "export * from './sandbox-profile.ts';",
    'src/sandbox/profiles/sandbox-profile.ts': '',
  };

  it.each([
    ['an import into internals', 'src/runner/x.ts', "import { f } from '../egress/guarded-fetch.ts';", 'src/egress/index.ts'],
    ['an import type into internals', 'src/runner/x.ts', "import type { F } from '../egress/guarded-fetch.ts';", 'src/egress/index.ts'],
    ['an export * from internals', 'src/runner/x.ts', "export * from '../egress/guarded-fetch.ts';", 'src/egress/index.ts'],
    ['a dynamic import of internals', 'src/runner/x.ts', "const { f } = await import('../egress/guarded-fetch.ts');", 'src/egress/index.ts'],
    ["a nested folder's door from outside its parent", 'src/runner/x.ts', "import { p } from '../sandbox/profiles/index.ts';", 'src/sandbox/index.ts'],
    ["a nested folder's internals from outside its parent", 'src/runner/x.ts', "import { p } from '../sandbox/profiles/sandbox-profile.ts';", 'src/sandbox/index.ts'],
    ["a nested folder's internals from a sibling folder", 'src/sandbox/isolate/x.ts', "import { p } from '../profiles/sandbox-profile.ts';", 'src/sandbox/profiles/index.ts'],
    ['a test under test/ reaching internals', 'test/api/x.test.ts', "import { f } from '../../src/egress/guarded-fetch.ts';", 'src/egress/index.ts'],
  ])('catches %s', (_name, file, text, door) => {
    const { violations } = frontDoorViolations({ ...base, [file]: text });
    expect(violations).toEqual([expect.stringMatching(new RegExp(`^${file}:1 .*: import ${door} instead$`))]);
  });

  it.each([
    ['the front door', 'src/runner/x.ts', "import { f } from '../egress/index.ts';"],
    ['a file of its own folder', 'src/egress/x.ts', "import { f } from './guarded-fetch.ts';"],
    ['a test next to the code', 'src/egress/guarded-fetch.test.ts', "import { f } from './guarded-fetch.ts';"],
    ["a nested folder's door from inside the parent", 'src/sandbox/isolate/x.ts', "import { p } from '../profiles/index.ts';"],
    ['a sibling file inside the parent', 'src/sandbox/profiles/x.ts', "import { b } from '../isolate/isolate-backend.ts';"],
    ['a folder without an index.ts', 'src/runner/x.ts', "import { e } from '../core/errors.ts';"],
  ])('allows %s', (_name, file, text) => {
    expect(frontDoorViolations({ ...base, [file]: text }).violations).toEqual([]);
  });

  it('lets a listed exception through and reports one that matches nothing', () => {
    const used = { from: 'test/x.test.ts', to: 'src/egress/guarded-fetch.ts', reason: 'tests an internal' };
    const stale = { from: 'test/y.test.ts', to: 'src/egress/guarded-fetch.ts', reason: 'no longer imported' };
    const tree = { ...base, 'test/x.test.ts': "import { f } from '../src/egress/guarded-fetch.ts';" };
    expect(frontDoorViolations(tree, [used, stale])).toEqual({ violations: [], unusedExceptions: [stale] });
  });
});
