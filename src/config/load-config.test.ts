import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CordonError } from '../core/errors.ts';
import { loadConfig } from './load-config.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cordon-config-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function withFile(text: string): { dir: string; path: string } {
  const dir = tempDir();
  const path = join(dir, 'cordon.yaml');
  writeFileSync(path, text);
  return { dir, path };
}

function errorOf(fn: () => unknown): CordonError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    return err as CordonError;
  }
  throw new Error('expected an error');
}

describe('loadConfig', () => {
  it('uses the embedded default when there is no file: loopback, port 7070, agent local', () => {
    const dir = tempDir();
    const c = loadConfig({ cwd: dir, env: {} });
    expect(c.configFile).toBeNull();
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 7070, bodyLimitBytes: 1024 * 1024 });
    expect(c.agents.map((a) => a.id)).toEqual(['local']);
    expect(c.dataDir).toBe(join(dir, '.cordon'));
    expect(Object.isFrozen(c.server)).toBe(true);
  });

  it('picks up ./cordon.yaml and resolves dataDir relative to the file', () => {
    const { dir } = withFile('dataDir: state\nserver:\n  port: 8080\n');
    const c = loadConfig({ cwd: dir, env: {} });
    expect(c.server.port).toBe(8080);
    expect(c.dataDir).toBe(join(dir, 'state'));
  });

  it('applies defaults < file < environment < flags', () => {
    const { dir, path } = withFile('server:\n  port: 8080\n  host: 127.0.0.2\nlog:\n  level: debug\n');
    const cwd = tempDir();
    const c = loadConfig({ cwd, env: { CORDON_CONFIG: path, CORDON_PORT: '9090', CORDON_DATA_DIR: 'envdata' }, flags: { port: '9191' } });
    expect(c.configFile).toBe(path);
    expect(c.server.port).toBe(9191);
    expect(c.server.host).toBe('127.0.0.2');
    expect(c.log.level).toBe('debug');
    // From the environment, a relative path is relative to the working directory.
    expect(c.dataDir).toBe(join(cwd, 'envdata'));
    expect(dir).not.toBe(cwd);
  });

  it('names the file, line and field of a bad value', () => {
    const { path } = withFile('server:\n  host: 127.0.0.1\n  port: 70000\n');
    const e = errorOf(() => loadConfig({ flags: { configPath: path }, env: {} }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(`${path}:3: /server/port must be <= 65535`);
    expect(e.details).toMatchObject({ source: path, line: 3, field: '/server/port' });
  });

  it('refuses unknown settings (typos) with their line', () => {
    const { path } = withFile('server:\n  prot: 7070\n');
    const e = errorOf(() => loadConfig({ flags: { configPath: path }, env: {} }));
    expect(e.message).toBe(`${path}:2: /server/prot is not a known setting`);
  });

  it('names the environment variable when it is the source', () => {
    const dir = tempDir();
    expect(errorOf(() => loadConfig({ cwd: dir, env: { CORDON_PORT: 'http' } })).message).toContain('CORDON_PORT');
    expect(errorOf(() => loadConfig({ cwd: dir, env: { CORDON_LOG_LEVEL: 'loud' } })).message).toMatch(/^environment: \/log\/level/);
  });

  it('names the flag when it is the source', () => {
    const dir = tempDir();
    expect(errorOf(() => loadConfig({ cwd: dir, env: {}, flags: { port: '99999' } })).message).toMatch(/^flags: \/server\/port/);
  });

  it.each([
    ['a YAML syntax error', 'server: [\n', /:\d+: /],
    ['a duplicate key', 'server:\n  port: 1\n  port: 2\n', /:3: /],
    ['a list at the top', '- a\n- b\n', /must be a mapping/],
    ['a wrong type', 'server: 5\n', /\/server must be object/],
    ['a duplicate agent', 'agents:\n  - id: a\n  - id: a\n', /duplicates agent id/],
    ['an agent id with a slash', 'agents:\n  - id: ../etc\n', /\/agents\/0\/id/],
    ['both key forms', 'agents:\n  - id: a\n    publicKey: x\n    publicKeyFile: y\n', /exclusive/],
    ['a per-agent sandbox share above the total', 'sandbox:\n  maxSessions: 10\n  maxSessionsPerAgent: 11\n', /must not exceed maxSessions/],
    ['a per-agent host share above the total', 'sandbox:\n  isolate:\n    maxHostsPerAgent: 9\n    maxHosts: 4\n', /must not exceed maxHosts/],
    ['auth.localUsers as a plain boolean (it is {enabled, actors})', 'auth:\n  localUsers: false\n', /\/auth\/localUsers must be object/],
    ['an actor that is not an agent id', 'auth:\n  userIssuers:\n    - issuer: https://idp.test/\n      jwksUrl: https://idp.test/jwks\n      actors: ["Not An Agent"]\n', /\/auth\/userIssuers\/0\/actors\/0/],
    ['a user with an empty issuer', 'users:\n  - id: alice\n    issuer: ""\n', /\/users\/0\/issuer/],
    ['an unknown audit durability', 'audit:\n  durability: sometimes\n', /:2: \/audit\/durability must be equal to one of the allowed values/],
    ['audit durability as a boolean', 'audit:\n  durability: true\n', /\/audit\/durability must be string/],
    ['a rotation size below 4 KiB (a file per record)', 'audit:\n  rotateBytes: 100\n', /\/audit\/rotateBytes must be >= 4096/],
    ['a fractional rotation size', 'audit:\n  rotateBytes: 4096.5\n', /\/audit\/rotateBytes must be integer/],
    ['an absurd rotation size', 'audit:\n  rotateBytes: 1e30\n', /\/audit\/rotateBytes must be/],
    ['a __proto__ key', '__proto__:\n  polluted: 1\n', /not allowed|not a known setting/],
    ['an alias bomb', 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n', /alias/i],
  ])('refuses %s with CONFIG_INVALID', (_name, text, pattern) => {
    const { path } = withFile(text);
    const e = errorOf(() => loadConfig({ flags: { configPath: path }, env: {} }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(pattern);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('makes the audit log durable with 64 MiB rotation by default, and takes buffered from the file', () => {
    expect(loadConfig({ cwd: tempDir(), env: {} }).audit).toMatchObject({ durability: 'durable', rotateBytes: 64 * 1024 * 1024 });
    const { path } = withFile('audit:\n  durability: buffered\n  rotateBytes: 1048576\n');
    expect(loadConfig({ flags: { configPath: path }, env: {} }).audit).toMatchObject({ durability: 'buffered', rotateBytes: 1048576, repeatWindowMs: 60_000 });
  });

  it('keeps local users on when only their actors are set', () => {
    const { path } = withFile('auth:\n  localUsers:\n    actors: [local]\n');
    expect(loadConfig({ flags: { configPath: path }, env: {} }).auth.localUsers).toEqual({ enabled: true, actors: ['local'] });
  });

  it('refuses an oversized file before parsing it', () => {
    const { path } = withFile('# ' + 'x'.repeat(2 * 1024 * 1024));
    expect(errorOf(() => loadConfig({ flags: { configPath: path }, env: {} })).message).toMatch(/over the 1048576-byte limit/);
  });

  it('refuses a named config file that does not exist', () => {
    expect(errorOf(() => loadConfig({ flags: { configPath: '/nonexistent/cordon.yaml' }, env: {} })).message).toMatch(/not found/);
  });

  it('ships an example cordon.yaml that loads', () => {
    const c = loadConfig({ flags: { configPath: join(import.meta.dirname, '..', '..', 'cordon.yaml') }, env: {} });
    expect(c.agents.find((a) => a.id === 'local')).toMatchObject({ createKey: true });
  });

  it('defaults the audit checkpoints and resolves a mirror relative to the config file', () => {
    expect(loadConfig({ cwd: tempDir(), env: {} }).audit).toMatchObject({ origin: 'cordon.local/audit', checkpointEvery: 1000, checkpointIntervalMs: 10_000, checkpointMirror: null });
    const { dir, path } = withFile('audit:\n  origin: example.test/cordon-audit\n  checkpointMirror: ../offsite/audit.checkpoint\n');
    const c = loadConfig({ flags: { configPath: path }, cwd: tempDir(), env: {} });
    expect(c.audit).toMatchObject({ origin: 'example.test/cordon-audit', checkpointMirror: join(dir, '..', 'offsite', 'audit.checkpoint') });
  });

  it.each([
    ['an origin with a space', 'origin: "my log"'],
    ['an origin with a plus', 'origin: a+b'],
    ['an empty origin', 'origin: ""'],
    ['a zero checkpointEvery', 'checkpointEvery: 0'],
    ['a checkpointIntervalMs below 100', 'checkpointIntervalMs: 5'],
    ['an empty mirror', 'checkpointMirror: ""'],
  ])('refuses %s', (_what, line) => {
    const { path } = withFile(`audit:\n  ${line}\n`);
    expect(errorOf(() => loadConfig({ flags: { configPath: path }, cwd: tempDir(), env: {} })).code).toBe('CONFIG_INVALID');
  });
});

describe('operator listener config', () => {
  it('defaults to enabled on loopback port 7071, apart from the runner API', () => {
    const c = loadConfig({ cwd: tempDir(), env: {} });
    expect(c.operator).toEqual({ enabled: true, host: '127.0.0.1', port: 7071 });
  });

  it('takes the port from CORDON_OPERATOR_PORT and --operator-port (the flag wins), and the rest from the file', () => {
    const { dir, path } = withFile('operator:\n  enabled: false\n  host: "::1"\n');
    const c = loadConfig({ cwd: dir, env: { CORDON_OPERATOR_PORT: '9001' }, flags: { configPath: path } });
    expect(c.operator).toEqual({ enabled: false, host: '::1', port: 9001 });
    expect(loadConfig({ cwd: dir, env: { CORDON_OPERATOR_PORT: '9001' }, flags: { configPath: path, operatorPort: '0' } }).operator.port).toBe(0);
  });

  it('refuses a bad port, unknown fields and a non-boolean enabled, naming the field', () => {
    const env = errorOf(() => loadConfig({ cwd: tempDir(), env: { CORDON_OPERATOR_PORT: '70000x' } }));
    expect([env.code, env.details.field]).toEqual(['CONFIG_INVALID', '/operator/port']);
    const flag = errorOf(() => loadConfig({ cwd: tempDir(), env: {}, flags: { operatorPort: '-1' } }));
    expect([flag.code, flag.details.source]).toEqual(['CONFIG_INVALID', 'flag --operator-port']);
    for (const text of ['operator:\n  enabled: "yes"\n', 'operator:\n  port: 65536\n', 'operator:\n  tokens: []\n']) {
      const { dir, path } = withFile(text);
      expect(errorOf(() => loadConfig({ cwd: dir, env: {}, flags: { configPath: path } })).code).toBe('CONFIG_INVALID');
    }
  });
});

describe('metrics and invocation log config', () => {
  it('serves /metrics and logs no line per call by default; the example file says the same', () => {
    const c = loadConfig({ cwd: tempDir(), env: {} });
    expect([c.metrics, c.log]).toEqual([{ enabled: true }, { level: 'info', invocations: false }]);
    const shipped = loadConfig({ flags: { configPath: join(import.meta.dirname, '..', '..', 'cordon.yaml') }, env: {} });
    expect([shipped.metrics, shipped.log.invocations]).toEqual([{ enabled: true }, false]);
  });

  it('takes both from the file, keeping the log level', () => {
    const { path } = withFile('metrics:\n  enabled: false\nlog:\n  invocations: true\n');
    const c = loadConfig({ flags: { configPath: path }, env: {} });
    expect([c.metrics.enabled, c.log]).toEqual([false, { level: 'info', invocations: true }]);
  });

  it.each([
    ['a string for metrics.enabled', 'metrics:\n  enabled: "yes"\n', /:2: \/metrics\/enabled must be boolean/],
    ['an unknown metrics setting', 'metrics:\n  port: 9100\n', /port/],
    ['metrics as a boolean', 'metrics: false\n', /\/metrics must be object/],
    ['a number for log.invocations', 'log:\n  invocations: 1\n', /:2: \/log\/invocations must be boolean/],
  ])('refuses %s with CONFIG_INVALID, naming the line and field', (_name, text, pattern) => {
    const { path } = withFile(text);
    const e = errorOf(() => loadConfig({ flags: { configPath: path }, env: {} }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(pattern);
  });
});
