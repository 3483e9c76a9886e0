import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, type CliRun } from '../support/cli.ts';

// The real CLI as a user runs it: ./bin/cordon in a fresh directory with the embedded default.
let cwd: string;

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-cli-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const cordon = (args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliRun> => runCli(cwd, args, options);

describe('cordon CLI', () => {
  it('runs 1+1 and prints 2', async () => {
    const r = await cordon(['run', 'code', '--lang', 'js', '1+1']);
    expect(r).toMatchObject({ code: 0, stdout: '2\n' });
  });

  it('runs top-level await, and says where an error is (exit 1)', async () => {
    expect(await cordon(['run', 'code', '--lang', 'js', 'await Promise.resolve(6 * 7)'])).toMatchObject({ code: 0, stdout: '42\n' });
    const r = await cordon(['run', 'code', '--lang', 'js', '1;\nlet x = ;']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SyntaxError: .*\(line 2, column 9\)/);
  });

  it('prints console output, then the value', async () => {
    const r = await cordon(['run', 'code', '--lang', 'js', 'console.log("hi"); console.error("warn"); [1,2]']);
    expect(r.stdout).toBe('hi\n[1,2]\n');
    expect(r.stderr).toContain('warn\n');
  });

  it('reads the source from stdin with -', async () => {
    const r = await cordon(['run', 'code', '--lang', 'js', '-'], { stdin: '2**10' });
    expect(r).toMatchObject({ code: 0, stdout: '1024\n' });
  });

  it('prints the whole result with --json', async () => {
    const r = await cordon(['run', 'code', '--input', '{"language":"javascript","source":"6*7"}', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ tool: 'code', status: 'ok', output: { value: 42 } });
  });

  it.each([
    ['an infinite loop', ['while(true){}', '--timeout-ms', '300'], 'timeout'],
    ['a memory bomb', ['const a=[]; for(;;) a.push(new Array(1e6).fill(1))', '--memory-mb', '16'], 'oom'],
    ["require('fs')", ["require('fs')"], 'error'],
    ['process.exit()', ['process.exit()'], 'error'],
    ['the constructor escape', ["this.constructor.constructor('return process')()"], 'error'],
  ])('exits 1 with status %s → %s', async (_name, args, status) => {
    const r = await cordon(['run', 'code', '--lang', 'js', ...args, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).status).toBe(status);
  });

  it.each([
    ['bad --input JSON', ['run', 'code', '--input', '{nope'], 2],
    ['--input and a source together', ['run', 'code', '1', '--input', '{}'], 2],
    ['an unknown language', ['run', 'code', '--lang', 'cobol', '1'], 2],
    ['an unknown tool', ['run', 'nope', '--input', '{}'], 8],
    ['an unknown command', ['frobnicate'], 2],
    ['a missing argument', ['run'], 2],
    ['an unknown agent', ['token', '--agent', 'nobody'], 8],
    ['a ttl over the maximum', ['token', '--agent', 'local', '--ttl', '3600'], 2],
  ])('exits with the error table code for %s', async (_name, args, code) => {
    const r = await cordon(args as string[]);
    expect(r.code).toBe(code);
    expect(r.stderr.length).toBeGreaterThan(0);
  });

  it('prints help for every command', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['run', '--help'], ['tools', '--help'], ['agents', '--help'], ['agents', 'add', '--help'], ['agents', 'list', '--help'], ['token', '--help']]) {
      const r = await cordon(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/^Usage: cordon/);
    }
    // Eight processes one after another: give a loaded machine time (not a timing assertion).
  }, 60_000);

  it('lists tools', async () => {
    const r = await cordon(['tools', '--json']);
    expect(JSON.parse(r.stdout).tools.map((t: { name: string }) => t.name)).toContain('code');
  });

  it('prints a token that is an EdDSA JWT for agent local', async () => {
    const r = await cordon(['token', '--agent', 'local']);
    expect(r.code).toBe(0);
    const [header, payload] = r.stdout.trim().split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString() || 'null'));
    expect(header).toMatchObject({ alg: 'EdDSA' });
    expect(payload).toMatchObject({ iss: 'local', sub: 'local', aud: 'cordon' });
    expect(payload.exp - payload.iat).toBeLessThanOrEqual(300);
  });

  describe('agents', () => {
    it('adds an agent with a 0600 private key that is never printed', async () => {
      const r = await cordon(['agents', 'add', 'bot', '--group', 'coding']);
      expect(r.code).toBe(0);
      const keyPath = join(cwd, '.cordon', 'agents', 'bot.key');
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      expect(statSync(join(cwd, '.cordon', 'agents')).mode & 0o777).toBe(0o700);
      const secret = readFileSync(keyPath, 'utf8').split('\n')[1] ?? '';
      expect(secret.length).toBeGreaterThan(20);
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(readdirSync(join(cwd, '.cordon', 'agents')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('refuses to add the same agent twice', async () => {
      const r = await cordon(['agents', 'add', 'bot']);
      expect(r.code).toBe(9);
      expect(r.stderr).toContain('AGENT_EXISTS');
    });

    it('refuses an invalid agent name', async () => {
      expect((await cordon(['agents', 'add', '../evil'])).code).toBe(2);
    });

    it('lists agents with fingerprints, never keys', async () => {
      const r = await cordon(['agents', 'list', '--json']);
      const agents = JSON.parse(r.stdout).agents as { id: string; key: string; tools: string[] }[];
      expect(agents.find((a) => a.id === 'bot')).toMatchObject({ key: expect.stringMatching(/^SHA256:/), groups: ['coding'] });
      expect(r.stdout).not.toContain('PRIVATE');
    });

    it('runs as an added agent, and denies one without the tool (exit 5)', async () => {
      expect(await cordon(['run', 'code', '--lang', 'js', '3', '--agent', 'bot'])).toMatchObject({ code: 0, stdout: '3\n' });
      await cordon(['agents', 'add', 'notools']);
      const denied = await cordon(['run', 'code', '--lang', 'js', '3', '--agent', 'notools']);
      expect(denied.code).toBe(5);
      expect(denied.stderr).toContain('POLICY_DENIED');
    });
  });

  it('exits 3 naming the file and line for a bad config', async () => {
    const path = join(cwd, 'bad.yaml');
    writeFileSync(path, 'server:\n  port: nope\n');
    const r = await cordon(['--config', path, 'run', 'code', '--lang', 'js', '1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${path}:2: /server/port`);
  });

  it('honours CORDON_DATA_DIR and --data-dir', async () => {
    const other = join(cwd, 'elsewhere');
    expect((await cordon(['token', '--agent', 'local'], { env: { CORDON_DATA_DIR: other } })).code).toBe(0);
    expect(readdirSync(join(other, 'agents'))).toContain('local.key');
    const third = join(cwd, 'third');
    expect((await cordon(['--data-dir', third, 'run', 'code', '--lang', 'js', '1'])).code).toBe(0);
    expect(readdirSync(join(third, 'agents'))).toContain('local.key');
  });

  describe('serve', () => {
    let child: ChildProcess | undefined;
    afterAll(() => {
      if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    });

    it('serves, prints the URL and a curl line, and runs 1+1 with a token from `cordon token`', async () => {
      child = spawn(BIN, ['serve', '--port', '0', '--operator-port', '0'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CORDON_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const url = await new Promise<string>((done, fail) => {
        child?.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /cordon listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m?.[1] !== undefined && out.includes('curl ')) done(m[1]);
        });
        child?.on('exit', (code) => fail(new Error(`serve exited ${code}`)));
      });
      expect(out).toContain('Authorization: Bearer ');
      const token = (await cordon(['token', '--agent', 'local'])).stdout.trim();
      const res = await fetch(`${url}/v1/invocations`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '1+1' } }) });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok', output: { value: 2 } });
      // A second server on the same port says so and exits 7, without a stack trace.
      const clash = await cordon(['serve', '--port', new URL(url).port]);
      expect(clash.code).toBe(7);
      // (Its log may also say that the first server holds the audit log: it keeps its own chain.)
      expect(clash.stderr).toMatch(/^cordon: UNAVAILABLE: port \d+ on 127\.0\.0\.1 is in use/m);
      expect(clash.stderr).not.toMatch(/^\s+at /m);
      const exited = new Promise((done) => child?.on('exit', done));
      if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await exited;
      // The audit log has the call.
      const audit = readFileSync(join(cwd, '.cordon', 'audit', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(audit.some((r: { agent: string; outcome: string; tool: string }) => r.agent === 'local' && r.tool === 'code' && r.outcome === 'ok')).toBe(true);
    });
  });
});

describe('cordon policy', () => {
  const SHIPPED = resolve(import.meta.dirname, '..', '..', 'policies');

  it('validates and tests the shipped policies', async () => {
    expect(await cordon(['policy', 'validate', SHIPPED])).toMatchObject({ code: 0 });
    const r = await cordon(['policy', 'test', SHIPPED]);
    expect(r.code).toBe(0);
    // It names the folder it tested and where the cases came from.
    expect(r.stdout).toContain(`policy tests of ${SHIPPED} (cases in ${join(SHIPPED, 'tests')}): `);
    expect(r.stdout).toMatch(/\): \d+ passed, 0 failed; policy set sha256:/);
  });

  it('fails, with a clear table, on a broken copy', async () => {
    const broken = join(cwd, 'broken-policies');
    cpSync(SHIPPED, broken, { recursive: true });
    // Someone widens the research agent to code execution.
    writeFileSync(join(broken, 'oops.cedar'), '@id("oops")\npermit (principal in Group::"research", action, resource);\n');
    const r = await cordon(['policy', 'test', broken]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL/);
    expect(r.stdout).toMatch(/\d+ failed/);
  });

  it('refuses a policy that does not validate, naming file and line (exit 3)', async () => {
    const bad = join(cwd, 'bad-policies');
    cpSync(SHIPPED, bad, { recursive: true });
    writeFileSync(join(bad, 'typo.cedar'), '@id("typo")\npermit (principal, action == Action::"fs.raed", resource);\n');
    const r = await cordon(['policy', 'validate', bad]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('typo.cedar:2');
  });

  it('explains a decision without running anything, with session facts', async () => {
    const allowed = await cordon(['policy', 'explain', '--agent', 'local', '--tool', 'code', '--input', '{"language":"javascript","source":"1"}', '--json']);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ result: 'allow', ruleId: 'local-code-exec-javascript' });
    const denied = await cordon(['policy', 'explain', '--agent', 'local', '--tool', 'code', '--input', '{"language":"javascript","source":"1"}', '--session-fact', 'calls=500']);
    expect(denied.stdout).toContain('chain-session-call-budget');
    expect((await cordon(['policy', 'explain', '--agent', 'local', '--tool', 'code', '--input', '{}', '--session-fact', 'bogus'])).code).toBe(2);
  });
});

describe('cordon egress', () => {
  const POLICIES = resolve(import.meta.dirname, '..', '..', 'egress-policies');
  const check = async (...args: string[]) => {
    const r = await cordon(['egress', 'check', '--policy', join(POLICIES, 'github.yaml'), '--json', ...args]);
    return { code: r.code, stderr: r.stderr, result: r.code === 0 ? (JSON.parse(r.stdout) as { decision: string; reason: string; rule: string | null; address: string | null }) : null };
  };

  it('validates and tests the shipped egress policies', async () => {
    expect((await cordon(['egress', 'validate', POLICIES])).code).toBe(0);
    const r = await cordon(['egress', 'test', POLICIES]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\d+ passed, 0 failed/);
  });

  it.each([
    ['an allowed path', ['--url', 'https://api.github.com/repos/acme/tool'], 'allow', 'github.allow[2]'],
    ['the same host outside the path rule', ['--url', 'https://api.github.com/orgs/acme'], 'deny', null],
    ['a method the rule does not allow', ['--url', 'https://api.github.com/repos/acme/tool', '--method', 'DELETE'], 'deny', null],
    ['upper case and a trailing dot', ['--url', 'https://API.GitHub.com./repos/acme/x'], 'allow', 'github.allow[2]'],
    ['a denied wildcard subdomain', ['--url', 'https://gist.githubusercontent.com/x'], 'deny', null],
    ['the metadata address', ['--url', 'http://169.254.169.254/latest/meta-data/'], 'deny', null],
    ['an allowed name that resolves inside', ['--url', 'https://api.github.com/repos/acme/x', '--resolve', 'api.github.com=10.0.0.7'], 'deny', null],
    ['an allowed name resolving to a public and a private address', ['--url', 'https://api.github.com/repos/acme/x', '--resolve', 'api.github.com=10.0.0.7,140.82.112.5'], 'allow', 'github.allow[2]'],
    ['localhost', ['--url', 'http://localhost/'], 'deny', null],
    ['a CONNECT to raw content (a tunnel hides the path the rule restricts)', ['--connect', 'raw.githubusercontent.com:443'], 'deny', null],
    ["raw content of the organisation's repositories", ['--url', 'https://raw.githubusercontent.com/acme/tool/main/README.md'], 'allow', 'github.allow[0]'],
    ['a CONNECT to a port the rule does not allow', ['--connect', 'raw.githubusercontent.com:22'], 'deny', null],
  ])('decides %s', async (_name, args, decision, rule) => {
    const r = await check(...args);
    expect(r.code).toBe(0);
    expect(r.result?.decision).toBe(decision);
    if (rule !== null) expect(r.result?.rule).toBe(rule);
    if (decision === 'deny') expect(r.result?.address).toBeNull();
    expect(r.result?.reason.length).toBeGreaterThan(0);
  });

  it('pins the public survivor when one answer is private', async () => {
    expect((await check('--url', 'https://api.github.com/repos/acme/x', '--resolve', 'api.github.com=10.0.0.7,140.82.112.5')).result?.address).toBe('140.82.112.5');
  });

  it.each([
    ['neither --url nor --connect', []],
    ['both --url and --connect', ['--url', 'https://a.example/', '--connect', 'a.example:443']],
    ['a malformed --resolve', ['--url', 'https://a.example/', '--resolve', 'nonsense']],
    ['a --resolve with a bad address', ['--url', 'https://a.example/', '--resolve', 'a.example=999.1.1.1']],
  ])('exits 2 for %s', async (_name, args) => {
    const r = await check(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('USAGE');
  });

  it('exits 2 for a policy file that does not load, naming its line', async () => {
    const bad = join(cwd, 'bad-egress.yaml');
    writeFileSync(bad, 'name: bad\nallow:\n  - host: "*"\n');
    const r = await cordon(['egress', 'check', '--policy', bad, '--url', 'https://a.example/', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad-egress.yaml:3');
  });
});
