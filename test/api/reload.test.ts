import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createLoopbackOnlyDialer, createStaticResolver } from '../../src/egress/index.ts';
import { addAgent, mintLocalToken } from '../../src/runner/local-agents.ts';
import { addLocalUser } from '../../src/runner/local-users.ts';
import { startUpstream, type LoopbackUpstream } from '../support/loopback-fixture.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// Item 6 of issue 12: agents, users, Cedar and egress policies reload in place (runtime.reload,
// which SIGHUP and `cordon reload` call), checked first; a bad file keeps the old set and says why.
const ROOT = resolve(import.meta.dirname, '..', '..');
const coder = makeTestAgent('coder', ['coding']);
let upstream: LoopbackUpstream;
const open: { env: TestEnv; server: TestServer }[] = [];

beforeAll(async () => {
  upstream = await startUpstream('127.0.0.2');
});
afterEach(async () => {
  for (const { env, server } of open.splice(0)) {
    await server.close();
    env.cleanup();
  }
});
afterAll(async () => {
  await upstream?.close();
});

/** The egress policy the `code` tool gets: plain.test on the upstream's port, or nothing but `host`. */
const egressPolicy = (host = `plain.test:${upstream.port}`) => ['name: test-api', 'mode: enforce', 'allow:', `  - host: ${host}`, 'allow_cidrs: [127.0.0.0/8]', ''].join('\n');

/** A server on its own copy of the shipped Cedar policies and egress policies, with `agents` in its config. */
async function serve(agents: TestAgent[] = [coder]) {
  const env = makeTestEnv(agents, { policyDir: 'policies', egress: { policyDir: 'egress', toolPolicies: { code: 'test-api' } } });
  cpSync(join(ROOT, 'policies'), join(env.dir, 'policies'), { recursive: true });
  writeFileSync(join(env.dir, 'policies', 'fetch.cedar'), '@id("coder-fetches-test-hosts")\npermit (principal == Agent::"coder", action == Action::"net.fetch", resource is Url) when { resource.host like "*.test" };\n');
  mkdirSync(join(env.dir, 'egress'));
  cpSync(join(ROOT, 'egress-policies', 'browse-open.yaml'), join(env.dir, 'egress', 'browse-open.yaml'));
  writeFileSync(join(env.dir, 'egress', 'test-api.yaml'), egressPolicy());
  const server = await startTestServer(env.config, { egress: { resolver: createStaticResolver({ 'plain.test': '127.0.0.2', 'other.test': '127.0.0.2' }), dialer: createLoopbackOnlyDialer() } });
  open.push({ env, server });
  return { env, server, policies: join(env.dir, 'policies'), egress: join(env.dir, 'egress') };
}

async function runCode(server: TestServer, agent: TestAgent, source = '40+2', extra: Record<string, unknown> = {}, token = ed25519Token(agent.privateKey, claimsFor(agent.id))) {
  const res = await request(`${server.url}/v1/invocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source, timeoutMs: 10_000 }, ...extra }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as { status?: string; output?: { value?: unknown }; error?: { code: string; message: string; details: { reason?: string; decision?: { ruleId: string | null } } } } };
}

const fetchSource = (host = 'plain.test') => `(async () => (await fetch('http://${host}:${upstream.port}/')).status)()`;

function editConfig(env: TestEnv, edit: (doc: Record<string, unknown>) => void): void {
  const doc = parse(readFileSync(env.configPath, 'utf8')) as Record<string, unknown>;
  edit(doc);
  writeFileSync(env.configPath, stringify(doc));
}

const configRecords = (server: TestServer) => server.audit.records.filter((r) => r.kind === 'config');

describe('runtime.reload: applied', () => {
  it('a new Cedar policy flips the decision, changes the policy version /healthz shows, and is audited', async () => {
    const { server, policies } = await serve();
    expect((await runCode(server, coder)).json.status).toBe('ok');
    const before = server.runtime.runner.policyVersion();
    writeFileSync(join(policies, 'no-code.cedar'), '@id("no-code-for-coder")\nforbid (principal == Agent::"coder", action == Action::"code.exec", resource);\n');
    const result = await server.runtime.reload();
    expect(result).toMatchObject({ ok: true, generation: 1, previousPolicyVersion: before, problems: [] });
    expect(result.policyVersion).not.toBe(before);
    expect(result.changes).toContain('Cedar policies added: no-code-for-coder');
    const denied = await runCode(server, coder);
    expect(denied.status).toBe(403);
    expect(denied.json.error?.details.decision?.ruleId).toBe('no-code-for-coder');
    const health = (await (await request(`${server.url}/healthz`)).body.json()) as { policySet: string };
    expect(health.policySet).toBe(result.policyVersion);
    expect(configRecords(server)).toEqual([expect.objectContaining({ outcome: 'applied', reload: expect.objectContaining({ event: 'applied', fromPolicyVersion: before, toPolicyVersion: result.policyVersion }) })]);
  });

  it('an agent added to the config authenticates after the reload (the 401 before says to reload); one removed gets 401, even with a token that worked', async () => {
    const remover = makeTestAgent('leaver', ['coding']);
    const { env, server } = await serve([coder, remover]);
    const newcomer = makeTestAgent('newcomer', ['coding']);
    const early = await runCode(server, newcomer);
    expect(early.status).toBe(401);
    expect(early.json.error).toMatchObject({ code: 'AUTH_INVALID_TOKEN', details: { reason: 'unknown_agent' } });
    expect(early.json.error?.message).toContain('"newcomer" is not a registered agent');
    expect(early.json.error?.message).toContain('cordon reload');
    const leaverToken = ed25519Token(remover.privateKey, claimsFor(remover.id));
    expect((await runCode(server, remover, '1', {}, leaverToken)).json.status).toBe('ok');

    editConfig(env, (doc) => {
      doc.agents = [coder, newcomer].map((a) => ({ id: a.id, publicKey: a.publicKeyPem, groups: a.groups }));
    });
    const result = await server.runtime.reload();
    expect(result.ok).toBe(true);
    expect(result.changes).toEqual(expect.arrayContaining(['agents added: newcomer', 'agents removed: leaver']));
    expect((await runCode(server, newcomer)).json.status).toBe('ok');
    // The very token that was verified (and remembered) before the reload.
    const gone = await runCode(server, remover, '1', {}, leaverToken);
    expect(gone.status).toBe(401);
    expect(gone.json.error?.details.reason).toBe('unknown_agent');
  });

  it('picks up `cordon agents add` and `cordon users add` registrations in the data directory', async () => {
    const { env, server } = await serve();
    addAgent(env.config, 'helper', ['coding']);
    addLocalUser(env.config, 'alice', ['engineering']);
    const token = await mintLocalToken(env.config, 'helper', 60);
    const call = () => runCode(server, coder, '1', {}, token);
    expect((await call()).status).toBe(401);
    const result = await server.runtime.reload();
    expect(result.changes).toEqual(expect.arrayContaining(['agents added: helper', expect.stringMatching(/^users added: .*alice/)]));
    expect((await call()).json.status).toBe('ok');
  });

  it('a narrowed egress policy refuses the next fetch, of a new call and of a live session sandbox made before the reload', async () => {
    const { server, egress } = await serve();
    expect((await runCode(server, coder, fetchSource())).json.output?.value).toBe(200);
    const token = ed25519Token(coder.privateKey, claimsFor(coder.id));
    const created = await request(`${server.url}/v1/sandboxes`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ profile: 'js' }) });
    const { id: sandbox } = (await created.body.json()) as { id: string };
    expect((await runCode(server, coder, fetchSource(), { sandbox })).json.output?.value).toBe(200);

    writeFileSync(join(egress, 'test-api.yaml'), egressPolicy(`other.test:${upstream.port}`));
    expect((await server.runtime.reload()).ok).toBe(true);
    expect((await runCode(server, coder, fetchSource())).json.output?.value).toBe(403);
    expect((await runCode(server, coder, fetchSource(), { sandbox })).json.output?.value).toBe(403);
    expect((await runCode(server, coder, fetchSource('other.test'))).json.output?.value).toBe(200);
  });

  it('a call already past authorization finishes with what it started with; the next is decided by the new set', async () => {
    const { server, policies } = await serve();
    const busy = runCode(server, coder, 'const until = Date.now() + 1500; while (Date.now() < until) {} 42');
    // Past authorization: its `started` record is written just before its sandbox runs.
    while (!server.audit.records.some((r) => r.agent === 'coder' && r.outcome === 'started')) await new Promise((r) => setTimeout(r, 10));
    writeFileSync(join(policies, 'no-code.cedar'), '@id("no-code-for-coder")\nforbid (principal == Agent::"coder", action == Action::"code.exec", resource);\n');
    expect((await server.runtime.reload()).ok).toBe(true);
    expect((await busy).json).toMatchObject({ status: 'ok', output: { value: 42 } });
    expect((await runCode(server, coder)).status).toBe(403);
  });

  it('reloads asked at once run one at a time: the first, then one more for all the rest', async () => {
    const { server } = await serve();
    const [a, b, c] = await Promise.all([server.runtime.reload(), server.runtime.reload(), server.runtime.reload()]);
    expect([a.generation, b.generation, c.generation]).toEqual([1, 2, 2]);
    expect(c).toBe(b);
    expect(configRecords(server).map((r) => r.reload?.generation)).toEqual([1, 2]);
  });

  it('applies nothing it does not reload: a changed port or limit is named as needing a restart', async () => {
    const { env, server } = await serve();
    editConfig(env, (doc) => {
      doc.server = { host: '127.0.0.1', port: 7071, bodyLimitBytes: 4096 };
    });
    const result = await server.runtime.reload();
    expect(result.ok).toBe(true);
    expect(result.needsRestart).toEqual(['server.bodyLimitBytes changed: needs a restart', 'server.port changed: needs a restart']);
    expect(server.runtime.config.server.bodyLimitBytes).not.toBe(4096);
  });
});

describe('runtime.reload: refused, the old set kept', () => {
  const forbidCoder = '@id("no-code-for-coder")\nforbid (principal == Agent::"coder", action == Action::"code.exec", resource);\n';
  it.each([
    ['an invalid Cedar file', (s: Served) => writeFileSync(join(s.policies, 'broken.cedar'), `${forbidCoder}@id("half")\npermit (principal, action, resource\n`), /broken\.cedar$/, /unexpected end of input/],
    ['a Cedar policy the schema rejects', (s: Served) => writeFileSync(join(s.policies, 'typo.cedar'), `${forbidCoder}@id("typo")\npermit (principal, action == Action::"code.exce", resource);\n`), /typo\.cedar$/, /code\.exce/],
    ['an egress policy that does not parse', (s: Served) => writeFileSync(join(s.egress, 'bad.yaml'), 'name: bad\nmode: sometimes\n'), /bad\.yaml$/, /mode/],
    [
      'an agent with a malformed key',
      (s: Served) => editConfig(s.env, (doc) => void (doc.agents = [{ id: 'coder', publicKey: coder.publicKeyPem, groups: ['coding'] }, { id: 'mangled', publicKey: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n' }])),
      /cordon\.yaml$/,
      /agent "mangled" publicKey: not a PEM public key/,
    ],
    ['a profile naming an egress policy removed', (s: Served) => rmSync(join(s.egress, 'browse-open.yaml')), /browser\.yaml$/, /"browse-open"/],
    ['a tool policy naming an egress policy removed', (s: Served) => rmSync(join(s.egress, 'test-api.yaml')), /cordon\.yaml$/, /toolPolicies\/code names egress policy "test-api"/],
    ['a policy file replaced by a huge one', (s: Served) => writeFileSync(join(s.policies, 'baseline.cedar'), `// ${'x'.repeat(2 * 1024 * 1024)}\n`), /baseline\.cedar$/, /over the 1048576-byte limit/],
    ['a symlink to /dev/zero in the policy folder', (s: Served) => symlinkSync('/dev/zero', join(s.policies, 'zero.cedar')), /zero\.cedar$/, /not a regular file/],
    ['a FIFO in the policy folder', (s: Served) => execFileSync('mkfifo', [join(s.policies, 'pipe.cedar')]), /pipe\.cedar$/, /not a regular file/],
    ['a FIFO in the egress folder', (s: Served) => execFileSync('mkfifo', [join(s.egress, 'pipe.yaml')]), /pipe\.yaml$/, /not a regular file/],
  ])('%s: refused naming the problem, and the old set decides exactly as before', async (_name, breakIt, file: RegExp, reason: RegExp) => {
    const served = await serve();
    const { server } = served;
    const version = server.runtime.runner.policyVersion();
    // A good change next to the bad one: it must not be applied either.
    writeFileSync(join(served.policies, 'no-code.cedar'), forbidCoder);
    breakIt(served);
    const result = await server.runtime.reload();
    expect(result.ok).toBe(false);
    expect(result.policyVersion).toBe(version);
    expect(result.changes).toEqual([]);
    expect(result.problems).toContainEqual(expect.objectContaining({ reason: expect.stringMatching(reason) }));
    expect(result.problems.find((p) => reason.test(p.reason))?.file).toMatch(file);
    expect(server.runtime.runner.policyVersion()).toBe(version);
    expect((await runCode(server, coder)).json.status).toBe('ok');
    expect((await runCode(server, coder, fetchSource())).json.output?.value).toBe(200);
    expect(configRecords(server)).toEqual([expect.objectContaining({ outcome: 'refused', reload: expect.objectContaining({ event: 'refused', fromPolicyVersion: version, toPolicyVersion: version, problems: expect.arrayContaining([expect.stringMatching(reason)]) }) })]);
  });

  it('names every agent whose key is bad, not only the first', async () => {
    const { env, server } = await serve();
    const mangled = '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n';
    editConfig(env, (doc) => void (doc.agents = [{ id: 'coder', publicKey: coder.publicKeyPem, groups: ['coding'] }, { id: 'one', publicKey: mangled }, { id: 'two', publicKey: mangled }]));
    const result = await server.runtime.reload();
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.reason)).toEqual([expect.stringContaining('agent "one"'), expect.stringContaining('agent "two"')]);
    expect(result.problems.every((p) => p.file === env.configPath)).toBe(true);
  });

  it('a config file that no longer loads is refused with its line', async () => {
    const { env, server } = await serve();
    writeFileSync(env.configPath, `${readFileSync(env.configPath, 'utf8')}agents: [\n`);
    const result = await server.runtime.reload();
    expect(result.ok).toBe(false);
    expect(result.problems[0]?.file).toBe(env.configPath);
    expect(result.problems[0]?.line).toBeGreaterThan(1);
    expect((await runCode(server, coder)).json.status).toBe('ok');
  });
});

type Served = Awaited<ReturnType<typeof serve>>;
