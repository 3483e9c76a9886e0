import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CordonError } from '../core/errors.ts';
import type { AuthzResource } from './authz-request.ts';
import { runPolicyTests, type ResolvedTool } from './run-policy-tests.ts';
import { createTempPolicyDir, POLICY_TESTDATA, SHIPPED_POLICIES } from './test-fixtures.ts';

async function withCopy<T>(edit: (dir: string) => void, run: (dir: string) => Promise<T>): Promise<T> {
  const tmp = createTempPolicyDir({}, SHIPPED_POLICIES);
  try {
    edit(tmp.dir);
    return await run(tmp.dir);
  } finally {
    tmp.remove();
  }
}

/** A stand-in for the tool registry the runner will supply. */
function resolveTool(name: string, input: unknown): ResolvedTool {
  const i = input as Record<string, string>;
  if (name === 'code') return { action: 'code.exec', resource: { kind: 'language', language: i.lang === 'js' ? 'javascript' : (i.lang ?? '') } };
  if (name === 'read_file') return { action: 'fs.read', resource: { kind: 'file', path: `/workspace/${i.path}` } as AuthzResource, annotations: { readOnlyHint: true, destructiveHint: false } };
  throw new Error(`no tool named ${name}`);
}

describe('policy tests as code', () => {
  it('the shipped policies pass their tests, and every shipped policy is exercised', async () => {
    const report = await runPolicyTests(SHIPPED_POLICIES);
    expect(report.table).toContain(`${report.passed} passed, 0 failed`);
    expect(report.ok).toBe(true);
    expect(report.failed).toBe(0);
    expect(report.unexercised).toEqual([]);
    expect(report.passed).toBeGreaterThan(40);
  });

  it('a broken copy of the policies fails, with a table that says which case and why', async () => {
    // Someone "fixes" the ssh rule and breaks it: .ssh folders become readable.
    const report = await withCopy(
      (dir) => {
        const file = join(dir, 'secrets.cedar');
        writeFileSync(file, readFileSync(file, 'utf8').replace('resource.segments.contains(".ssh")', 'resource.segments.contains(".ssh2")'));
      },
      (dir) => runPolicyTests(dir),
    );
    expect(report.ok).toBe(false);
    expect(report.failed).toBe(3);
    const failing = report.results.filter((r) => !r.pass);
    expect(failing.map((r) => r.name)).toEqual(['no reading an ssh key', 'no writing authorized_keys deep down', 'no deleting ssh config (denied, not sent for approval)']);
    expect(report.table).toMatch(/FAIL {2}secrets\.yaml:25 +no reading an ssh key +deny by secrets-ssh +allow/);
    expect(report.table).toContain('expected deny, got allow: allowed by coding-read-write-workspace');
    expect(report.table).toContain(`${report.passed} passed, 3 failed`);
    expect(report.unexercised).toEqual(['secrets-ssh']);
  });

  it('names a test-file user as production does: User::"<issuer>#<sub>", a bare name being a local user', async () => {
    const report = await withCopy(
      (dir) => {
        writeFileSync(join(dir, 'one-user.cedar'), '@id("local-alice-reads")\npermit (principal == User::"cordon-local-users#alice", action == Action::"fs.read", resource);\n@id("idp-bob-reads")\npermit (principal == User::"https://idp.test/#bob", action == Action::"fs.read", resource);\n');
        const cases = (user: string, expect: string) => `  - name: ${user} ${expect}\n    agent: assistant\n    user: "${user}"\n    action: fs.read\n    resource: { file: /workspace/src/app.ts }\n    expect: ${expect}\n`;
        writeFileSync(
          join(dir, 'tests', 'one-user.yaml'),
          'agents:\n  assistant: { groups: [assistants] }\nusers:\n  alice: {}\n  "https://idp.test/#bob": {}\n  "https://other.test/#alice": {}\ncases:\n' +
            cases('alice', 'allow') + cases('https://idp.test/#bob', 'allow') + cases('https://other.test/#alice', 'deny'),
        );
      },
      (dir) => runPolicyTests(dir),
    );
    const mine = report.results.filter((r) => r.file.endsWith('one-user.yaml'));
    expect(mine.map((r) => [r.name, r.pass])).toEqual([['alice allow', true], ['https://idp.test/#bob allow', true], ['https://other.test/#alice deny', true]]);
  });

  it('a copy with a policy that no longer parses is refused with file and line', async () => {
    const err = await withCopy(
      (dir) => writeFileSync(join(dir, 'coding-agent.cedar'), readFileSync(join(dir, 'coding-agent.cedar'), 'utf8').replace('resource is File\n)\nwhen', 'resource is File\n)\nwhen when')),
      (dir) => runPolicyTests(dir).then(() => null, (e: unknown) => e),
    );
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).code).toBe('CONFIG_INVALID');
    expect((err as CordonError).message).toMatch(/coding-agent\.cedar:\d+:\d+: .*unexpected token/);
  });

  it('reports a wrong expected policy id even when the result matches', async () => {
    const tmp = createTempPolicyDir({
      'p.cedar': '@id("allow-read") permit (principal, action == Action::"fs.read", resource);',
      'tests/t.yaml': 'agents: { a: {} }\ncases:\n  - { name: wrong id, agent: a, action: fs.read, resource: { file: /workspace/x }, expect: allow, policy: other }\n',
    });
    try {
      const report = await runPolicyTests(tmp.dir);
      expect(report.ok).toBe(false);
      expect(report.table).toContain('expected policy other among the deciding policies, got allow-read');
    } finally {
      tmp.remove();
    }
  });

  it('resolves tool cases through the injected resolver', async () => {
    const dir = join(POLICY_TESTDATA, 'tool-cases');
    const testsDir = join(dir, 'tests');
    const tmp = createTempPolicyDir({ 'tools.cedar': readFileSync(join(dir, 'tools.cedar'), 'utf8') });
    try {
      const report = await runPolicyTests(tmp.dir, { resolveTool, testsDir });
      expect(report.results.map((r) => [r.name, r.actual])).toEqual([
        ['code tool with javascript', 'allow'],
        ['code tool with python', 'deny'],
        ['read tool inside the workspace', 'allow'],
        ['an action case next to tool cases', 'allow'],
      ]);
      expect(report.ok).toBe(true);
      expect(report.results[2]?.decision?.evaluated.context.annotations.readOnlyHint).toBe(true);
    } finally {
      tmp.remove();
    }
  });

  it('a tool case without a resolver fails with a clear error, and the other cases still run', async () => {
    const dir = join(POLICY_TESTDATA, 'tool-cases');
    const tmp = createTempPolicyDir({ 'tools.cedar': readFileSync(join(dir, 'tools.cedar'), 'utf8') });
    try {
      const report = await runPolicyTests(tmp.dir, { testsDir: join(dir, 'tests') });
      expect(report.ok).toBe(false);
      expect(report.results.map((r) => r.actual)).toEqual(['error', 'error', 'error', 'allow']);
      expect(report.table).toContain('error: case uses tool "code" but no tool resolver was given');
    } finally {
      tmp.remove();
    }
  });

  it('a resolver that throws, an unknown agent or a malformed request fail that case only', async () => {
    const tmp = createTempPolicyDir({
      'p.cedar': '@id("r") permit (principal, action == Action::"fs.read", resource);',
      'tests/t.yaml': [
        'agents: { a: {} }',
        'cases:',
        '  - { name: unknown tool, agent: a, tool: nope, expect: deny }',
        '  - { name: unknown agent, agent: ghost, action: fs.read, resource: { file: /workspace/x }, expect: deny }',
        '  - { name: traversal, agent: a, action: fs.read, resource: { file: /workspace/../etc/passwd }, expect: deny }',
        '  - { name: fine, agent: a, action: fs.read, resource: { file: /workspace/x }, expect: allow }',
      ].join('\n'),
    });
    try {
      const report = await runPolicyTests(tmp.dir, { resolveTool });
      expect(report.results.map((r) => r.actual)).toEqual(['error', 'error', 'error', 'allow']);
      expect(report.results[0]?.reason).toContain('no tool named nope');
      expect(report.results[1]?.reason).toContain('agent "ghost" is not defined');
      expect(report.results[2]?.reason).toContain('resource.path must be canonical');
    } finally {
      tmp.remove();
    }
  });

  it.each([
    ['an unknown key', 'cases:\n  - name: typo\n    agent: a\n    action: fs.read\n    resource: { file: /workspace/x }\n    expected: allow\n', 't.yaml:2', 'unknown key `expected`'],
    ['a bad expected result', 'cases:\n  - { agent: a, action: fs.read, resource: { file: /x }, expect: permit }\n', 't.yaml:2', '`expect` must be one of'],
    ['both tool and action', 'cases:\n  - { agent: a, tool: x, action: fs.read, expect: deny }\n', 't.yaml:2', 'give either'],
    ['a duplicate key', 'cases: []\ncases: []\n', 't.yaml:2', 'Map keys must be unique'],
    ['an unknown resource form', 'cases:\n  - { agent: a, action: fs.read, resource: { path: /x }, expect: deny }\n', 't.yaml:2', 'resource must be one of'],
  ])('refuses a test file with %s, naming file and line', async (_name, yaml, where, reason) => {
    const tmp = createTempPolicyDir({ 'tests/t.yaml': yaml });
    try {
      const err = await runPolicyTests(tmp.dir).then(() => null, (e: unknown) => e);
      expect((err as CordonError).code).toBe('CONFIG_INVALID');
      expect((err as CordonError).message).toContain(where);
      expect((err as CordonError).message).toContain(reason);
    } finally {
      tmp.remove();
    }
  });

  it('is not ok when there are no cases at all', async () => {
    const tmp = createTempPolicyDir({ 'tests/empty.yaml': 'cases: []\n' });
    try {
      const report = await runPolicyTests(tmp.dir);
      expect(report.ok).toBe(false);
      expect(report.table).toContain('(no test cases found)');
    } finally {
      tmp.remove();
    }
  });
});
