import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CordonError } from '../../core/errors.ts';
import { BUNDLED_SANDBOX_PROFILE_DIR, loadSandboxProfiles, MAX_PROFILE_FILE_BYTES, validateSandboxProfiles } from './index.ts';

const SHIPPED_JS = readFileSync(join(BUNDLED_SANDBOX_PROFILE_DIR, 'js.yaml'), 'utf8');
/** The shipped js profile under another name. */
const profileNamed = (name: string): string => SHIPPED_JS.replace(/^name: js$/m, `name: ${name}`);
/** The 1-based line of the shipped js profile that starts with `start`. */
const shippedLine = (start: string): number => SHIPPED_JS.split('\n').findIndex((l) => l.trimStart().startsWith(start)) + 1;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cordon-profiles-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function refusal(load: () => unknown): CordonError {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    return err as CordonError;
  }
  throw new Error('expected a refusal');
}

describe('the shipped profiles', () => {
  it('live in the repository-root sandboxes/ folder', () => {
    expect(BUNDLED_SANDBOX_PROFILE_DIR).toBe(resolve(import.meta.dirname, '..', '..', '..', 'sandboxes'));
  });

  it('include a valid js isolate profile with the documented values', () => {
    const js = loadSandboxProfiles(BUNDLED_SANDBOX_PROFILE_DIR).get('js');
    expect(js).toEqual({
      name: 'js',
      file: join(BUNDLED_SANDBOX_PROFILE_DIR, 'js.yaml'),
      backend: 'isolate',
      description: expect.any(String),
      languages: ['javascript'],
      tools: ['code', 'file.read', 'file.write', 'file.edit', 'file.list', 'file.stat', 'file.mkdir', 'file.move', 'file.delete'],
      egressPolicy: null,
      sensitivePaths: ['.env', '.env.*', '*.pem', '*.key', 'id_rsa*', 'id_ed25519*', '.netrc', '**/.ssh/**', '**/.git/config'],
      limits: { memoryMb: 64, maxMemoryMb: 512, timeoutMs: 5000, maxTimeoutMs: 60000, outputBytes: 65536, resultBytes: 1048576 },
      session: { idleTtlMs: 600000, maxTtlMs: 3600000, maxPerPrincipal: 50 },
      container: null,
    });
    expect(Object.isFrozen(js?.limits)).toBe(true);
  });

  it('all load: browser, js, and the python, shell and python-gvisor container profiles with the documented values', () => {
    const shipped = loadSandboxProfiles(BUNDLED_SANDBOX_PROFILE_DIR);
    expect([...shipped.keys()]).toEqual(['browser', 'js', 'python-gvisor', 'python', 'shell']);
    const limits = { memoryMb: 256, maxMemoryMb: 1024, timeoutMs: 10000, maxTimeoutMs: 120000, outputBytes: 1048576, resultBytes: 1048576 };
    const session = { idleTtlMs: 600000, maxTtlMs: 3600000, maxPerPrincipal: 10 };
    const container = { image: 'python', runtime: 'runc', user: 1000, env: {}, cpus: 1, pids: 128, workspaceMb: 256, tmpMb: 64, warmPool: 1 };
    const python = { description: expect.any(String), backend: 'container', languages: ['python', 'sh'], tools: ['code', 'file.read', 'file.write', 'file.edit', 'file.list', 'file.stat', 'file.mkdir', 'file.move', 'file.delete'], egressPolicy: null, sensitivePaths: ['.env', '.env.*', '*.pem', '*.key', 'id_rsa*', 'id_ed25519*', '.netrc', '**/.ssh/**', '**/.git/config'], limits, session, container };
    const at = (name: string) => ({ name, file: join(BUNDLED_SANDBOX_PROFILE_DIR, `${name}.yaml`) });
    expect(shipped.get('python')).toEqual({ ...at('python'), ...python });
    expect(shipped.get('shell')).toEqual({ ...at('shell'), ...python, languages: ['sh'], container: { ...container, image: 'shell' } });
    expect(shipped.get('python-gvisor')).toEqual({ ...at('python-gvisor'), ...python, container: { ...container, runtime: 'runsc', warmPool: 0, pids: 64 } });
    expect(shipped.get('python-gvisor')?.description).toContain('gVisor');
    // browse.page: an isolate sandbox is its identity and lifetime; the page runs in the shared Chromium.
    expect(shipped.get('browser')).toMatchObject({
      ...at('browser'),
      backend: 'isolate',
      tools: ['browse.fetch', 'browse.page'],
      sensitivePaths: [],
      egressPolicy: 'browse-open',
      limits: { timeoutMs: 30000, maxTimeoutMs: 120000, resultBytes: 4194304 },
      session: { maxPerPrincipal: 5 },
      container: null,
    });
    // Each image a shipped profile names has its recipe beside it (the loader of recipes sits a layer above).
    for (const p of shipped.values()) {
      if (p.container !== null) expect(existsSync(join(BUNDLED_SANDBOX_PROFILE_DIR, 'images', `${p.container.image}.yaml`))).toBe(true);
    }
  });
});

describe('loadSandboxProfiles', () => {
  it('loads *.yaml and *.yml by name, with absolute paths, and ignores other files', () => {
    writeFileSync(join(dir, 'js.yaml'), SHIPPED_JS);
    writeFileSync(join(dir, 'js-small.yml'), profileNamed('js-small'));
    writeFileSync(join(dir, 'README.md'), '# not a profile');
    mkdirSync(join(dir, 'nested'));
    writeFileSync(join(dir, 'nested', 'broken.yaml'), 'not: [a profile');
    const profiles = loadSandboxProfiles(dir);
    expect([...profiles.keys()]).toEqual(['js-small', 'js']);
    expect(profiles.get('js-small')?.file).toBe(join(dir, 'js-small.yml'));
  });

  it('refuses a missing directory, saying so', () => {
    const err = refusal(() => loadSandboxProfiles(join(dir, 'nope')));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.details).toMatchObject({ file: join(dir, 'nope'), field: '(dir)' });
    expect(err.message).toContain('no such directory');
  });

  it('refuses a file given as the directory', () => {
    writeFileSync(join(dir, 'js.yaml'), SHIPPED_JS);
    expect(refusal(() => loadSandboxProfiles(join(dir, 'js.yaml'))).message).toContain('is not a directory');
  });

  it('refuses a file over 64 KiB before parsing it, and takes one at exactly 64 KiB', () => {
    const padded = (bytes: number): string => SHIPPED_JS + '#'.repeat(bytes - Buffer.byteLength(SHIPPED_JS) - 1) + '\n';
    writeFileSync(join(dir, 'js.yaml'), padded(MAX_PROFILE_FILE_BYTES));
    expect(loadSandboxProfiles(dir).has('js')).toBe(true);
    // Not YAML at all: a size refusal must come before any parse error.
    writeFileSync(join(dir, 'js.yaml'), '{'.repeat(MAX_PROFILE_FILE_BYTES + 1));
    const err = refusal(() => loadSandboxProfiles(dir));
    expect(err.details).toMatchObject({ file: join(dir, 'js.yaml'), line: 0, field: '(file)' });
    expect(err.message).toBe(`${join(dir, 'js.yaml')}:0: (file): is 65537 bytes, over the 65536-byte limit`);
  });

  it('refuses two files declaring the same name', () => {
    writeFileSync(join(dir, 'js.yaml'), SHIPPED_JS);
    writeFileSync(join(dir, 'js.yml'), SHIPPED_JS);
    const err = refusal(() => loadSandboxProfiles(dir));
    expect(err.details).toMatchObject({ file: join(dir, 'js.yml'), line: 6, field: 'name' });
    expect(err.message).toContain(`"js" is already defined by ${join(dir, 'js.yaml')}`);
  });

  it('refuses a profile whose name is not its file name', () => {
    writeFileSync(join(dir, 'python.yaml'), SHIPPED_JS);
    expect(refusal(() => loadSandboxProfiles(dir)).details).toMatchObject({ file: join(dir, 'python.yaml'), line: 6, field: 'name' });
  });

  it('refuses more than 256 profile files without reading any', () => {
    for (let i = 0; i <= 256; i++) writeFileSync(join(dir, `p${i}.yaml`), 'not: [yaml');
    const report = validateSandboxProfiles(dir);
    expect(report.problems).toEqual([{ file: dir, line: 0, field: '(dir)', reason: 'holds 257 profile files; at most 256 are allowed' }]);
  });

  it('refuses what is not a regular UTF-8 file: a directory, a FIFO, invalid bytes', () => {
    mkdirSync(join(dir, 'a-dir.yaml'));
    execFileSync('mkfifo', [join(dir, 'b-fifo.yaml')]);
    writeFileSync(join(dir, 'c-bytes.yaml'), Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe]));
    const report = validateSandboxProfiles(dir);
    expect(report.problems.map((p) => [p.file.slice(dir.length + 1), p.field, p.reason])).toEqual([
      ['a-dir.yaml', '(file)', 'is not a regular file'],
      ['b-fifo.yaml', '(file)', 'is not a regular file'],
      ['c-bytes.yaml', '(file)', 'is not valid UTF-8'],
    ]);
  });
});

describe('validateSandboxProfiles', () => {
  it('reports every problem in every file, and the profiles that loaded', () => {
    writeFileSync(join(dir, 'good.yaml'), profileNamed('good'));
    writeFileSync(join(dir, 'bad.yaml'), profileNamed('bad').replace('memoryMb: 64 ', 'memoryMb: 1  ').replace('backend: isolate', 'backend: firecracker'));
    writeFileSync(join(dir, 'worse.yaml'), 'name: worse\nbackend: isolate\n');
    const report = validateSandboxProfiles(dir);
    expect(report.ok).toBe(false);
    expect(report.dir).toBe(dir);
    expect(report.profiles.map((p) => p.name)).toEqual(['good']);
    expect(report.problems.map((p) => [p.file.slice(dir.length + 1), p.line, p.field])).toEqual([
      ['bad.yaml', shippedLine('backend:'), 'backend'],
      ['bad.yaml', shippedLine('memoryMb:'), 'limits.memoryMb'],
      ['worse.yaml', 1, 'description'],
      ['worse.yaml', 1, 'languages'],
      ['worse.yaml', 1, 'tools'],
      ['worse.yaml', 1, 'egressPolicy'],
      ['worse.yaml', 1, 'limits'],
      ['worse.yaml', 1, 'session'],
    ]);
  });

  it('checks tool and policy names when given the registries', () => {
    writeFileSync(join(dir, 'js.yaml'), SHIPPED_JS.replace(/^tools: \[.*\]$/m, 'tools: [code, fetch]'));
    expect(validateSandboxProfiles(dir).ok).toBe(true);
    const report = validateSandboxProfiles(dir, { tools: new Set(['code']), egressPolicies: new Set() });
    expect(report.problems).toEqual([{ file: join(dir, 'js.yaml'), line: shippedLine('tools:'), field: 'tools[1]', reason: '"fetch" is not a registered tool; known tools: code' }]);
  });

  it('reports a missing directory instead of throwing', () => {
    expect(validateSandboxProfiles(join(dir, 'nope'))).toMatchObject({ ok: false, profiles: [], problems: [{ field: '(dir)', line: 0 }] });
  });
});
