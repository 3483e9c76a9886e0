import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../support/cli.ts';

// The real CLI as an operator runs it in CI: ./bin/cordon in a fresh directory.
const ROOT = resolve(import.meta.dirname, '..', '..');
const SHIPPED = join(ROOT, 'sandboxes');
let cwd: string;
let profiles: string;

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-sandboxes-cli-'));
  profiles = join(cwd, 'profiles');
  mkdirSync(profiles);
  // One good profile, and one with a limit out of range on a known line and the rest missing.
  const js = readFileSync(join(SHIPPED, 'js.yaml'), 'utf8');
  writeFileSync(join(profiles, 'good.yaml'), js.replace(/^name: js$/m, 'name: good'));
  writeFileSync(join(profiles, 'broken.yaml'), 'name: broken\nbackend: isolate\ndescription: broken on purpose\nlanguages: [javascript]\ntools: [code]\negressPolicy: null\nlimits:\n  memoryMb: 99999\n');
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const cordon = (args: string[]): Promise<CliRun> => runCli(cwd, args);

describe('cordon sandboxes validate', () => {
  it('exits 0 on the shipped sandboxes/, one line per profile', async () => {
    const r = await cordon(['sandboxes', 'validate', SHIPPED]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok {2}js +isolate /m);
    expect(r.stdout).toMatch(/^ok {2}python +container +languages python,sh; /m);
    expect(r.stdout).toMatch(/^ok {2}python-gvisor +container +languages python,sh; /m);
    expect(r.stdout).toMatch(/^ok {2}shell +container +languages sh; /m);
    expect(r.stdout).toMatch(/^ok {2}browser +isolate +languages javascript; tools browse\.fetch,browse\.page; egress browse-open /m);
    expect(r.stdout).toContain('5 sandbox profiles in');
    expect(r.stderr).toBe('');
  });

  it('validates the bundled sandboxes/ when no directory is given', async () => {
    const r = await cordon(['sandboxes', 'validate']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(join(SHIPPED, 'js.yaml'));
  });

  it('exits 3 and prints file:line: field: reason for every problem', async () => {
    const r = await cordon(['sandboxes', 'validate', profiles]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^ok {2}good /m);
    const broken = join(profiles, 'broken.yaml');
    expect(r.stderr).toContain(`${broken}:8: limits.memoryMb: 99999 is out of range; use 8 to 4096\n`);
    expect(r.stderr).toContain(`${broken}:8: limits.maxMemoryMb: missing`);
    expect(r.stderr).toContain(`${broken}:1: session: missing`);
  });

  it('prints the report as JSON with --json', async () => {
    const r = await cordon(['sandboxes', 'validate', profiles, '--json']);
    expect(r.code).toBe(3);
    const report = JSON.parse(r.stdout) as { ok: boolean; profiles: { name: string }[]; problems: { file: string; line: number; field: string }[] };
    expect(report.ok).toBe(false);
    expect(report.profiles.map((p) => p.name)).toEqual(['good']);
    expect(report.problems).toContainEqual(expect.objectContaining({ file: join(profiles, 'broken.yaml'), line: 8, field: 'limits.memoryMb' }));
  });

  it('exits 3 for a profile naming a tool or an egress policy that does not exist, with the line', async () => {
    const dir = join(cwd, 'refs');
    mkdirSync(dir);
    const js = readFileSync(join(SHIPPED, 'js.yaml'), 'utf8');
    writeFileSync(join(dir, 'refs.yaml'), js.replace(/^name: js$/m, 'name: refs').replace(/^tools: \[.*\]$/m, 'tools: [code, shell.exec]').replace(/^egressPolicy: null$/m, 'egressPolicy: nowhere'));
    const r = await cordon(['sandboxes', 'validate', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refs\.yaml:\d+: tools\[1\]: "shell\.exec" is not a registered tool/);
    expect(r.stderr).toMatch(/refs\.yaml:\d+: egressPolicy: .*nowhere/);
    expect(r.stdout).not.toContain('ok  refs');
  });

  it('exits 3 for a container profile whose image is not a bundled recipe, with the line', async () => {
    const dir = join(cwd, 'images');
    mkdirSync(dir);
    const python = readFileSync(join(SHIPPED, 'python.yaml'), 'utf8');
    writeFileSync(join(dir, 'ruby.yaml'), python.replace(/^name: python$/m, 'name: ruby').replace(/^image: python$/m, 'image: ruby'));
    const line = python.split('\n').indexOf('image: python') + 1;
    const r = await cordon(['sandboxes', 'validate', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${join(dir, 'ruby.yaml')}:${line}: image: "ruby" is not an image recipe (sandboxes/images/<name>.yaml); known recipes: python, shell\n`);
    expect(r.stdout).not.toContain('ok  ruby');
  });

  it('exits 3 for a directory that does not exist', async () => {
    const r = await cordon(['sandboxes', 'validate', join(cwd, 'nope')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${join(cwd, 'nope')}:0: (dir): no such directory`);
  });

  it.each([
    ['two directories', ['sandboxes', 'validate', 'a', 'b']],
    ['an unknown option', ['sandboxes', 'validate', '--frobnicate']],
    ['an unknown subcommand', ['sandboxes', 'frobnicate']],
  ])('exits 2 for %s', async (_name, args) => {
    const r = await cordon(args);
    expect(r.code).toBe(2);
    expect(r.stderr.length).toBeGreaterThan(0);
  });
});

// Refusals that need no Docker engine: each is typed, says what to do, and builds nothing.
describe('cordon sandboxes build refuses bad input before touching the engine', () => {
  it.each([
    ['an unknown recipe', ['sandboxes', 'build', 'cobol'], 2, /no image recipe named cobol; recipes: python, shell/],
    ['a mirror that is not http(s)', ['sandboxes', 'build', '--mirror', 'file:///srv/debian', '--suite', 'bookworm'], 2, /--mirror must be an http\(s\) URI/],
    ['a suite that is an option', ['sandboxes', 'build', '--mirror', 'http://archive.example.test/debian', '--suite', '--include=evil'], 2, /--suite a Debian release name/],
  ])('%s', async (_, args, code, message) => {
    const r = await cordon(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  it('a recipe directory with a broken recipe: exit 3, naming file, line and field', async () => {
    const dir = join(cwd, 'recipes');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bad.yaml'), 'name: bad\ndescription: d\npackages: [python3]\nuser:\n  name: root\n  uid: 0\n');
    const r = await cordon(['sandboxes', 'build', '--recipes', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bad\.yaml:6: user\.uid: 0 is out of range/);
  });

  it('no engine at DOCKER_HOST: exit 7, SANDBOX_UNAVAILABLE saying how to start one', async () => {
    const r = await runCli(cwd, ['sandboxes', 'build', '--mirror', 'http://archive.example.test/debian', '--suite', 'bookworm'], { env: { DOCKER_HOST: `unix://${join(cwd, 'no-docker.sock')}` } });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/SANDBOX_UNAVAILABLE: no Docker engine answers at unix:\/\/.*no-docker\.sock.*apt-get install docker\.io/);
  });
});
