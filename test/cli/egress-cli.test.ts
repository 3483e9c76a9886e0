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

describe('cordon egress check --exit-code', () => {
  const browse = join(POLICIES, 'browse-open.yaml');

  it('exits 5 on a deny when asked, 0 on an allow, and 0 on a deny when not asked', async () => {
    const denied = await cordon(['egress', 'check', '--policy', browse, '--url', 'https://pastebin.com/x', '--exit-code']);
    expect(denied.code).toBe(5);
    expect(denied.stdout).toMatch(/^deny: .*browse-open\.deny\[0\]/);
    expect((await cordon(['egress', 'check', '--policy', browse, '--url', 'https://news.example/', '--exit-code'])).code).toBe(0);
    expect((await cordon(['egress', 'check', '--policy', browse, '--url', 'https://pastebin.com/x'])).code).toBe(0);
  });
});

describe('cordon egress check --batch', () => {
  const browse = join(POLICIES, 'browse-open.yaml');
  const parseOut = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; input: string; decision?: string; rule?: string | null; address?: string | null; error?: { code: string; message: string } });

  it('decides ~1000 lines in one process, one JSON line each, skipping blanks and comments', async () => {
    const lines = ['# last week\'s egress hosts', ''];
    for (let i = 0; i < 250; i++) {
      lines.push(`GET https://site${i}.example/page`, `https://pastebin.com:${8000 + i}/raw/${i}`, `CONNECT ${i}.tcp.ngrok.io:${10000 + i}`, `POST http://news${i}.example/ --resolve=10.0.0.${i % 250}`);
    }
    const r = await cordon(['egress', 'check', '--policy', browse, '--batch', '-'], { stdin: lines.join('\n') + '\n' });
    expect(r.code, r.stderr).toBe(0);
    const out = parseOut(r.stdout);
    expect(out).toHaveLength(1000);
    expect(out[0]).toMatchObject({ line: 3, input: 'GET https://site0.example/page', decision: 'allow', address: '2000::1' });
    expect(out[1]).toMatchObject({ line: 4, decision: 'deny', rule: 'browse-open.deny[0]' });
    expect(out[2]).toMatchObject({ line: 5, decision: 'deny', rule: 'browse-open.deny[3]' });
    expect(out[3]).toMatchObject({ line: 6, decision: 'deny', rule: 'cordon:address' });
    expect(out.filter((o) => o.decision === 'allow')).toHaveLength(250);
    expect(out.at(-1)?.line).toBe(1002);
  });

  it('gives a malformed or oversized line a typed error line and goes on; --exit-code then exits 2', async () => {
    const huge = 'https://a.example/' + 'x'.repeat(2 * 1024 * 1024);
    const input = ['https://news.example/', 'GET POST https://x.example/', huge, 'GET 0.tcp.ngrok.io:1', 'https://news.example/ --resolve=not-an-ip', 'https://pastebin.com/', `https://ok.example/${'y'.repeat(300)}`].join('\n');
    const r = await cordon(['egress', 'check', '--policy', browse, '--batch', '-', '--exit-code'], { stdin: input });
    expect(r.code).toBe(2);
    const out = parseOut(r.stdout);
    expect(out.map((o) => [o.line, o.decision ?? o.error?.code])).toEqual([
      [1, 'allow'],
      [2, 'USAGE'],
      [3, 'USAGE'],
      [4, 'USAGE'],
      [5, 'USAGE'],
      [6, 'deny'],
      [7, 'allow'],
    ]);
    expect(out[2]?.error?.message).toBe('line is longer than 8192 characters');
    // The echo is capped: a 2 MiB line does not come back whole.
    expect(out[2]?.input.length).toBeLessThanOrEqual(201);
    expect(out[4]?.error?.message).toContain('not-an-ip');
  });

  it('reads a file, and with --exit-code exits 5 when a line is denied', async () => {
    const file = join(cwd, 'requests.txt');
    writeFileSync(file, 'https://news.example/\r\nCONNECT www.pastebin.com:22\r\n');
    const r = await cordon(['egress', 'check', '--policy', browse, '--batch', file, '--exit-code']);
    expect(r.code).toBe(5);
    expect(parseOut(r.stdout).map((o) => o.decision)).toEqual(['allow', 'deny']);
  });

  it.each([
    ['a missing file', ['--batch', 'no-such-file.txt']],
    ['--batch with --url', ['--batch', '-', '--url', 'https://a.example/']],
    ['a bad --resolve option', ['--batch', '-', '--resolve', 'nonsense']],
  ])('exits 2 for %s', async (_name, args) => {
    const r = await cordon(['egress', 'check', '--policy', browse, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('USAGE');
    expect(r.stdout).toBe('');
  });
});
