import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../support/cli.ts';

// `cordon egress …` as an operator runs it: ./bin/cordon against the shipped policies.
const POLICIES = resolve(import.meta.dirname, '..', '..', 'egress-policies');
let cwd: string;

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'cordon-egress-cli-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const cordon = (args: string[], options: { stdin?: string } = {}): Promise<CliRun> => runCli(cwd, args, options);

interface CheckResult {
  decision: string;
  reason: string;
  rule: string | null;
}

async function check(policy: string, ...args: string[]): Promise<CheckResult> {
  const r = await cordon(['egress', 'check', '--policy', join(POLICIES, policy), '--json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as CheckResult;
}

describe('deny rules without ports cover every port (issue 8 item 6)', () => {
  it.each([
    ['pastebin.com on 8080', ['--url', 'https://pastebin.com:8080/raw/x'], 'browse-open.deny[0]'],
    ['pastebin.com over plain http on 8000', ['--url', 'http://pastebin.com:8000/'], 'browse-open.deny[0]'],
    ['a CONNECT to a paste subdomain on 22', ['--connect', 'www.pastebin.com:22'], 'browse-open.deny[1]'],
    ["a tunnel service's TCP port", ['--connect', '0.tcp.ngrok.io:14567'], 'browse-open.deny[3]'],
  ])('browse-open denies %s', async (_name, args, rule) => {
    expect(await check('browse-open.yaml', ...args)).toMatchObject({ decision: 'deny', rule });
  });

  it('an allow rule without ports still opens only the default port', async () => {
    expect(await check('package-registries.yaml', '--url', 'https://pypi.org/simple/')).toMatchObject({ decision: 'allow' });
    expect(await check('package-registries.yaml', '--url', 'https://pypi.org:8443/simple/')).toMatchObject({ decision: 'deny', rule: null });
  });
});

describe('cordon egress validate warns, with file and line, and still passes', () => {
  it('prints a warning for a wildcard under a public suffix and for link-local allow_cidrs (exit 0)', async () => {
    const dir = join(cwd, 'warned');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pages.yaml'), 'name: pages\nallow:\n  - host: "*.github.io"\n  - host: "*.co.uk"\nallow_cidrs:\n  - 169.254.0.0/16\n');
    const r = await cordon(['egress', 'validate', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 egress policies: valid');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/pages\.yaml:3: warning: pages\.allow\[0\] allows "\*\.github\.io", a wildcard directly under a public suffix/),
      expect.stringMatching(/pages\.yaml:4: warning: .*"\*\.co\.uk"/),
      expect.stringMatching(/pages\.yaml:6: warning: pages\.allow_cidrs\[0\] "169\.254\.0\.0\/16" includes the link-local range/),
    ]);
  });

  it('prints no warning for the shipped policies', async () => {
    const r = await cordon(['egress', 'validate', POLICIES]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
  });
});
