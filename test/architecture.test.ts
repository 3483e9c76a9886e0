import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

// Dependencies point one way: a layer may import its own folder and any layer
// with a lower rank, never a higher one (see ../shared/STYLE.md, "Layout").
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
  cli: 7,
  client: 7,
};

const SRC = resolve(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

function layerOf(file: string): string {
  const top = relative(SRC, file).split('/')[0] ?? '';
  return top;
}

describe('import graph', () => {
  const files = sourceFiles(SRC);

  it('knows every top-level folder under src/', () => {
    for (const file of files) expect(RANK, `unknown layer for ${file}`).toHaveProperty(layerOf(file));
  });

  it('has no import from a higher layer, or between api and cli', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
        const target = resolve(dirname(file), m[1] ?? '');
        if (!target.startsWith(SRC)) continue;
        const to = layerOf(target);
        if (to === from) continue;
        const ok = (RANK[to] ?? 99) < (RANK[from] ?? -1);
        if (!ok) violations.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('reads process.env only in config/ and cli/', () => {
    const offenders = files.filter((f) => !['config', 'cli'].includes(layerOf(f)) && /process\.env/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(SRC, f))).toEqual([]);
  });
});
