import { generateKeyPairSync } from 'node:crypto';
import { clientRefusal as refusal } from '../support/cordon-errors.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Through the package's own name (package.json "exports"), as a user of the package imports it.
import { Cordon, CordonClientError, isHeld, type RunResult } from 'cordon';
import { makeTestApprover, signedDecision } from '../support/approvers.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// The client against the real runner API on a loopback port, with the shipped policies:
// `coding` agents run code and work on files in their workspace; deletes wait for approval.
const coder = makeTestAgent('coder', ['coding']);
const nobody = makeTestAgent('nobody', []);
const alice = makeTestApprover('alice');
const NO_DOCKER = { container: { dockerHost: 'unix:///nonexistent/cordon-test/docker.sock' } };

let env: TestEnv;
let server: TestServer;
let idp: TestIssuer;
const clients: Cordon[] = [];

function clientFor(agent: TestAgent, extra: Partial<ConstructorParameters<typeof Cordon>[0]> = {}): Cordon {
  const client = new Cordon({ url: server.url, agent: { id: agent.id, privateKey: agent.privateKey }, ...extra });
  clients.push(client);
  return client;
}

function done<O>(result: RunResult<O>) {
  if (isHeld(result)) throw new Error(`call ${result.id} is held for approval ${result.approval.id}`);
  return result;
}

beforeAll(async () => {
  idp = await startTestIssuer();
  env = makeTestEnv([coder, nobody], {
    sandbox: { ...NO_DOCKER, maxSessionsPerAgent: 2 },
    approvals: { maxWaitMs: 20_000, approvers: [{ name: alice.name, publicKey: alice.publicKeyPem, tools: ['file.*'] }] },
    auth: { userIssuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl }] },
    users: [{ id: 'ann@example.test', issuer: idp.issuer, groups: ['engineering'] }],
  });
  server = await startTestServer(env.config);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
  await idp?.close();
  env?.cleanup();
});

describe('running tools', () => {
  it('runs code and answers its result; a failing script is a result, not an error', async () => {
    const cordon = clientFor(coder);
    const result = done(await cordon.run<{ value: unknown }>('code', { language: 'javascript', source: '6 * 7' }));
    expect(result).toMatchObject({ id: expect.stringMatching(/^inv_/) as string, tool: 'code', status: 'ok', output: { value: 42 } });
    const failed = done(await cordon.run<{ status: string; error: { message: string } }>('code', { language: 'javascript', source: 'throw new Error("boom")' }));
    expect(failed.status).toBe('error');
    expect(failed.output.error.message).toContain('boom');
    // Both ran as the client's agent, each with its own record.
    const records = server.audit.records.filter((r) => r.kind === 'invocation' && r.outcome !== 'started' && [result.id, failed.id].includes(r.invocation ?? ''));
    expect(records.map((r) => [r.agent, r.user, r.outcome])).toEqual([
      ['coder', null, 'ok'],
      ['coder', null, 'error'],
    ]);
  });

  it('accepts the private key as PEM text, and lists the tools with their schemas', async () => {
    const pem = coder.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const tools = await clientFor(coder, { agent: { id: coder.id, privateKey: pem } }).tools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['code', 'file.read', 'file.write', 'file.edit', 'file.delete']));
    expect(tools.find((t) => t.name === 'file.edit')?.inputSchema).toMatchObject({ type: 'object', required: ['path'] });
  });

  it('edits a file in a session sandbox: write, edit, read shows the edit; destroy ends the sandbox', async () => {
    const cordon = clientFor(coder);
    const sandbox = await cordon.sandboxes.create({ profile: 'js' });
    expect(sandbox).toMatchObject({ id: expect.stringMatching(/^sbx_/) as string, profile: 'js', identity: { agent: 'coder', user: null } });
    expect((await cordon.sandboxes.list()).map((s) => s.id)).toContain(sandbox.id);

    expect(done(await cordon.files.write(sandbox, { path: 'notes.txt', content: 'hello world\n' })).output).toEqual({ path: 'notes.txt', sizeBytes: 12 });
    expect(done(await cordon.files.edit(sandbox.id, { path: 'notes.txt', search: 'world', replace: 'cordon' })).status).toBe('ok');
    expect(done(await cordon.files.read(sandbox, { path: 'notes.txt' })).output).toMatchObject({ content: 'hello cordon\n', truncated: false });
    expect(done(await cordon.files.mkdir(sandbox, { path: 'src' })).status).toBe('ok');
    expect(done(await cordon.files.move(sandbox, { from: 'notes.txt', to: 'src/notes.txt' })).output).toEqual({ from: 'notes.txt', to: 'src/notes.txt' });
    expect(done(await cordon.files.stat(sandbox, { path: 'src/notes.txt' })).output).toMatchObject({ type: 'file', sizeBytes: 13 });
    expect(done(await cordon.files.list(sandbox, { depth: 2 })).output.entries.map((e) => e.path)).toEqual(['src', 'src/notes.txt']);

    // An edit whose text is not there changes nothing and says so by code.
    expect((await refusal(cordon.files.edit(sandbox, { path: 'src/notes.txt', search: 'absent', replace: 'x' }))).code).toBe('FS_EDIT_NO_MATCH');

    await cordon.sandboxes.destroy(sandbox);
    expect((await cordon.sandboxes.list()).map((s) => s.id)).not.toContain(sandbox.id);
    const gone = await refusal(cordon.files.read(sandbox, { path: 'src/notes.txt' }));
    expect([gone.code, gone.status]).toEqual(['SANDBOX_NOT_FOUND', 404]);
  });
});

describe('approvals', () => {
  async function heldDelete(cordon: Cordon, sandbox: string, path: string) {
    done(await cordon.files.write(sandbox, { path, content: 'precious' }));
    const held = await cordon.files.delete(sandbox, { path });
    if (!isHeld(held)) throw new Error('the delete was not held');
    return held;
  }

  it('resolves a held call to pending_approval without throwing, and waitForApproval answers its result once approved', async () => {
    const cordon = clientFor(coder);
    const sandbox = (await cordon.sandboxes.create({ profile: 'js' })).id;
    const held = await heldDelete(cordon, sandbox, 'doomed.txt');
    expect(held).toEqual({ id: expect.stringMatching(/^inv_/) as string, status: 'pending_approval', approval: { id: expect.stringMatching(/^apr_/) as string, reason: expect.any(String) as string, policyId: expect.any(String) as string, expiresAt: expect.any(String) as string } });

    // A wait that runs out answers the call as still held.
    expect(await cordon.waitForApproval(held, { timeoutMs: 0 })).toEqual(held);

    const waiting = cordon.waitForApproval(held.id, { timeoutMs: 15_000 });
    const view = server.runtime.approvals.get(held.approval.id);
    if (view === null) throw new Error('no approval stored');
    await server.runtime.approvals.decide(signedDecision(alice, view, 'approve'));
    expect(await waiting).toMatchObject({ id: held.id, tool: 'file.delete', status: 'ok', output: { path: 'doomed.txt' } });
    expect((await refusal(cordon.files.stat(sandbox, { path: 'doomed.txt' }))).code).toBe('FS_NOT_FOUND');
    await cordon.sandboxes.destroy(sandbox);
  });

  it('throws APPROVAL_DENIED naming the approver when the call is denied; the file stays', async () => {
    const cordon = clientFor(coder);
    const sandbox = (await cordon.sandboxes.create({ profile: 'js' })).id;
    const held = await heldDelete(cordon, sandbox, 'kept.txt');
    const waiting = refusal(cordon.waitForApproval(held, { timeoutMs: 15_000 }));
    const view = server.runtime.approvals.get(held.approval.id);
    if (view === null) throw new Error('no approval stored');
    await server.runtime.approvals.decide(signedDecision(alice, view, 'deny'));
    const denied = await waiting;
    expect([denied.code, denied.status, denied.details.approver]).toEqual(['APPROVAL_DENIED', 403, 'alice']);
    expect(done(await cordon.files.read(sandbox, { path: 'kept.txt' })).output.content).toBe('precious');
    await cordon.sandboxes.destroy(sandbox);
  });

  it('throws APPROVAL_EXPIRED when no one decides before the approval runs out, polling within a server\'s lower wait cap', async () => {
    // approvals.maxWaitMs 300: the client's first poll (waitMs 25000) is refused with the cap, and it polls within it.
    const shortEnv = makeTestEnv([coder], { sandbox: NO_DOCKER, approvals: { ttlMs: 1000, maxWaitMs: 300 } });
    const short = await startTestServer(shortEnv.config);
    try {
      const cordon = new Cordon({ url: short.url, agent: { id: coder.id, privateKey: coder.privateKey } });
      clients.push(cordon);
      const sandbox = (await cordon.sandboxes.create({ profile: 'js' })).id;
      const held = await heldDelete(cordon, sandbox, 'expiring.txt');
      const expired = await refusal(cordon.waitForApproval(held, { timeoutMs: 15_000 }));
      expect([expired.code, expired.status]).toEqual(['APPROVAL_EXPIRED', 410]);
    } finally {
      await short.close();
      shortEnv.cleanup();
    }
  });
});

describe('acting for a user', () => {
  it('exchanges the user token once, runs as agent and user, and the audit record names both', async () => {
    const cordon = clientFor(coder);
    const forAnn = cordon.onBehalfOf(await idp.token('ann@example.test', { may_act: { sub: 'coder' } }));
    expect(forAnn.delegated).toBe(true);
    const first = done(await forAnn.run<{ value: number }>('code', { language: 'javascript', source: '1 + 1' }));
    const second = done(await forAnn.run<{ value: number }>('code', { language: 'javascript', source: '2 + 2' }));
    expect([first.output.value, second.output.value]).toEqual([2, 4]);

    const ann = `${idp.issuer}#ann@example.test`;
    const records = server.audit.records.filter((r) => r.kind === 'invocation' && r.outcome === 'ok' && [first.id, second.id].includes(r.invocation ?? ''));
    expect(records.map((r) => [r.agent, r.user])).toEqual([
      ['coder', ann],
      ['coder', ann],
    ]);
    // One exchange served both calls: the delegated token is reused until close to its expiry.
    expect(server.audit.records.filter((r) => r.kind === 'token' && r.user === ann && r.token?.event === 'exchanged')).toHaveLength(1);
    // The agent's own client still acts as the agent alone.
    const own = done(await cordon.run('code', { language: 'javascript', source: '3' }));
    expect(server.audit.records.find((r) => r.invocation === own.id && r.outcome === 'ok')?.user).toBeNull();
  });

  it('refuses a user token that does not let this agent act, with the token endpoint\'s code', async () => {
    const forAnn = clientFor(coder).onBehalfOf(await idp.token('ann@example.test', { may_act: { sub: 'someone-else' } }));
    const refused = await refusal(forAnn.run('code', { language: 'javascript', source: '1' }));
    expect([refused.code, refused.status, refused.details.reason]).toEqual(['TOKEN_REQUEST_INVALID', 400, 'may_act']);
  });
});

describe('errors typed by Cordon\'s codes', () => {
  it('POLICY_DENIED for a call no policy allows, with the request id', async () => {
    const denied = await refusal(clientFor(nobody).run('code', { language: 'javascript', source: '1' }));
    expect([denied.code, denied.status]).toEqual(['POLICY_DENIED', 403]);
    expect(denied.requestId).toMatch(/^req_/);
  });

  it('INPUT_INVALID naming the field, TOOL_NOT_FOUND for an unknown tool', async () => {
    const cordon = clientFor(coder);
    const invalid = await refusal(cordon.run('code', { language: 'javascript' }));
    expect([invalid.code, invalid.status]).toEqual(['INPUT_INVALID', 400]);
    expect(JSON.stringify(invalid.details)).toContain('source');
    expect((await refusal(cordon.run('no.such-tool', {}))).code).toBe('TOOL_NOT_FOUND');
  });

  it('AUTH_INVALID_TOKEN for a wrong key and for an agent the server does not know', async () => {
    const wrongKey = generateKeyPairSync('ed25519').privateKey;
    const impostor = await refusal(new Cordon({ url: server.url, agent: { id: 'coder', privateKey: wrongKey } }).run('code', { language: 'javascript', source: '1' }));
    expect([impostor.code, impostor.status]).toEqual(['AUTH_INVALID_TOKEN', 401]);
    const stranger = await refusal(new Cordon({ url: server.url, agent: { id: 'stranger', privateKey: wrongKey } }).tools());
    expect(stranger.code).toBe('AUTH_INVALID_TOKEN');
  });

  it('RATE_LIMITED with retryAfterMs from Retry-After past a quota', async () => {
    const cordon = clientFor(coder);
    const mine = await cordon.sandboxes.list();
    await Promise.all(mine.map((s) => cordon.sandboxes.destroy(s)));
    const made = [await cordon.sandboxes.create({ profile: 'js' }), await cordon.sandboxes.create({ profile: 'js' })];
    const limited = await refusal(cordon.sandboxes.create({ profile: 'js' }));
    expect([limited.code, limited.status]).toEqual(['RATE_LIMITED', 429]);
    expect(limited.retryAfterMs).toBeGreaterThanOrEqual(1000);
    await Promise.all(made.map((s) => cordon.sandboxes.destroy(s)));
  });

  it('refuses bad options before anything is sent', () => {
    const key = coder.privateKey;
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err instanceof CordonClientError ? [err.code, err.details.field] : String(err);
      }
      return 'accepted';
    };
    expect(bad(() => new Cordon({ url: 'not a url', agent: { id: 'coder', privateKey: key } }))).toEqual(['CLIENT_OPTIONS_INVALID', 'url']);
    expect(bad(() => new Cordon({ url: 'http://cordon.example.test:7070', agent: { id: 'coder', privateKey: key } }))).toEqual(['CLIENT_OPTIONS_INVALID', 'url']);
    expect(bad(() => new Cordon({ url: server.url, agent: { id: 'coder', privateKey: coder.publicKeyPem } }))).toEqual(['CLIENT_OPTIONS_INVALID', 'agent']);
    expect(bad(() => new Cordon({ url: server.url, agent: { id: 'coder', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey } }))).toEqual(['CLIENT_OPTIONS_INVALID', 'agent']);
    expect(bad(() => new Cordon({ url: server.url, agent: { id: 'Not An Id', privateKey: key } }))).toEqual(['CLIENT_OPTIONS_INVALID', 'agent']);
    expect(bad(() => new Cordon({ url: server.url, agent: { id: 'coder', privateKey: key }, tokenTtlSec: 3600 }))).toEqual(['CLIENT_OPTIONS_INVALID', 'tokenTtlSec']);
    // https to a remote host, or http there when asked for explicitly, is accepted (nothing is sent yet).
    expect(bad(() => new Cordon({ url: 'https://cordon.example.test', agent: { id: 'coder', privateKey: key } }))).toBe('accepted');
  });

  it('refuses ids that would change the route, and is unusable once closed', async () => {
    const cordon = new Cordon({ url: server.url, agent: { id: coder.id, privateKey: coder.privateKey } });
    expect((await refusal(cordon.sandboxes.destroy('../v1/tools'))).code).toBe('CLIENT_OPTIONS_INVALID');
    expect((await refusal(cordon.waitForApproval('inv_x/../../sandboxes'))).code).toBe('CLIENT_OPTIONS_INVALID');
    await cordon.close();
    expect((await refusal(cordon.tools())).code).toBe('CLIENT_CLOSED');
  });
});
