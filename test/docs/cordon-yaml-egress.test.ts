import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { loadSecrets } from '../../src/config/load-secrets.ts';
import { BUNDLED_EGRESS_POLICY_DIR } from '../../src/config/defaults.ts';
import { loadEgressPolicies } from '../../src/egress/index.ts';
import { BUILTIN_TOOLS } from '../../src/tools/builtin-tools.ts';

// cordon.yaml documents `egress:` in two commented-out blocks: every field with its
// default, and a worked example. Comments cannot be loaded, so they rot unnoticed;
// these tests un-comment each block and load it as an operator would.

const CORDON_YAML = join(import.meta.dirname, '..', '..', 'cordon.yaml');
const text = readFileSync(CORDON_YAML, 'utf8');

/** Each commented `# egress:` block: that line and the indented commented lines under it. */
function commentedEgressBlocks(source: string): string[][] {
  const lines = source.split('\n');
  const blocks: string[][] = [];
  lines.forEach((line, i) => {
    if (line !== '# egress:') return;
    const block = [line];
    for (let j = i + 1; j < lines.length && /^# {2}/.test(lines[j] ?? ''); j++) block.push(lines[j] ?? '');
    blocks.push(block);
  });
  return blocks;
}

const uncomment = (block: readonly string[]): string[] => block.map((line) => line.replace(/^# /, ''));

/** cordon.yaml with one commented block replaced by the given live lines. */
function withBlock(block: readonly string[], live: readonly string[]): string {
  const out = text.replace(`${block.join('\n')}\n`, `${live.join('\n')}\n`);
  expect(out, 'the block was not found in cordon.yaml').not.toBe(text);
  return out;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Loads config text from a file in a fresh folder (relative paths resolve there). */
function loadText(configText: string, env: Record<string, string> = {}): { config: ReturnType<typeof loadConfig>; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-yaml-'));
  dirs.push(dir);
  const path = join(dir, 'cordon.yaml');
  writeFileSync(path, configText);
  return { config: loadConfig({ flags: { configPath: path }, env, cwd: dir }), dir };
}

const defaults = () => loadConfig({ cwd: mkdtempSync(join(tmpdir(), 'cordon-yaml-none-')), env: {} });

describe('cordon.yaml, egress section', () => {
  const blocks = commentedEgressBlocks(text);
  const [defaultsBlock, exampleBlock] = blocks;

  it('has two commented egress blocks (every default, then a worked example), and no live one', () => {
    expect(blocks).toHaveLength(2);
    expect(text).not.toMatch(/^egress:/m);
  });

  it('still loads as before: the comments leave the egress config at its defaults', () => {
    const shipped = loadConfig({ flags: { configPath: CORDON_YAML }, env: {} });
    expect(shipped.egress).toEqual(defaults().egress);
  });

  it('shows the real defaults: un-commented, the first block changes nothing', () => {
    const { config, dir } = loadText(withBlock(defaultsBlock ?? [], uncomment(defaultsBlock ?? [])));
    const expected = defaults().egress;
    // Written in the file, policyDir is relative to it; next to the repository's cordon.yaml
    // that is the bundled folder the default names.
    expect(config.egress.policyDir).toBe(join(dir, 'egress-policies'));
    expect(relative(dirname(CORDON_YAML), BUNDLED_EGRESS_POLICY_DIR)).toBe('egress-policies');
    expect({ ...config.egress, policyDir: expected.policyDir }).toEqual(expected);
  });

  it('documents every egress field the defaults have, sandbox limits included', () => {
    const documented = new Set(uncomment(defaultsBlock ?? []).flatMap((line) => /^ {2,}([A-Za-z]+):/.exec(line)?.[1] ?? []));
    const fields = (o: object): string[] => Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' && v !== null && Object.keys(v).length > 0 ? [k, ...fields(v)] : [k]));
    expect(new Set(fields(defaults().egress))).toEqual(documented);
  });

  describe('the worked example, un-commented', () => {
    const live = uncomment(exampleBlock ?? []);
    const load = () => loadText(withBlock(exampleBlock ?? [], live), {});

    it('loads and validates, and names tools that exist and policies that load', () => {
      const { config } = load();
      const policies = loadEgressPolicies(config.egress.policyDir);
      const tools = new Set(BUILTIN_TOOLS.map((t) => t.name));
      expect(Object.keys(config.egress.toolPolicies).length).toBeGreaterThanOrEqual(2);
      for (const [tool, policy] of Object.entries(config.egress.toolPolicies)) {
        expect(tools, `toolPolicies names "${tool}"`).toContain(tool);
        expect([...policies.keys()], `toolPolicies.${tool}`).toContain(policy);
      }
      // It shows what it says it shows: a trusted policy, and one that injects a secret.
      const named = Object.values(config.egress.toolPolicies).map((n) => policies.get(n));
      expect(named.some((p) => p?.trusted === true)).toBe(true);
      expect(named.some((p) => p?.allow.some((r) => r.inject !== null))).toBe(true);
    });

    it('configures every secret its policies inject, read from the environment variable it names', () => {
      const { config } = load();
      const policies = loadEgressPolicies(config.egress.policyDir);
      const injected = Object.values(config.egress.toolPolicies).flatMap((n) => policies.get(n)?.allow.flatMap((r) => r.inject?.value.secretNames ?? []) ?? []);
      expect(injected.length).toBeGreaterThan(0);
      expect(Object.keys(config.egress.secrets).sort()).toEqual([...new Set(injected)].sort());
      const env = Object.fromEntries(Object.entries(config.egress.secrets).map(([name, source]) => ['env' in source ? source.env : name, `value-of-${name}-${process.pid}`]));
      const secrets = loadSecrets(config.egress.secrets, env);
      for (const name of injected) expect(secrets.get(name)).toBe(`value-of-${name}-${process.pid}`);
      // Without the variable, start-up stops naming the secret: a request never goes out without it.
      expect(() => loadSecrets(config.egress.secrets, {})).toThrow(/environment variable .* is not set/);
    });

    it('also works with its file alternative, read relative to the config file', () => {
      const envLine = live.findIndex((line) => /\{env: /.test(line));
      const fileLine = live.findIndex((line) => /^\s+# [A-Z_]+: \{file: /.test(line));
      expect(envLine).toBeGreaterThan(0);
      expect(fileLine).toBeGreaterThan(envLine);
      const alternative = live.flatMap((line, i) => (i === envLine ? [] : i === fileLine ? [line.replace('# ', '')] : [line]));
      const { config, dir } = loadText(withBlock(exampleBlock ?? [], alternative));
      const [name, source] = Object.entries(config.egress.secrets)[0] ?? [];
      const file = source !== undefined && 'file' in source ? source.file : '';
      expect(file.startsWith(`${dir}/`), `${file} is under ${dir}`).toBe(true);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `from-a-file-${process.pid}\n`);
      expect(loadSecrets(config.egress.secrets, {}).get(name ?? '')).toBe(`from-a-file-${process.pid}`);
    });
  });
});
