import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testDocker } from '../support/container-sandbox.ts';
import { describeWith } from '../support/infrastructure.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { startUpstreamEgress, type UpstreamEgress } from '../support/upstream-egress.ts';

// Issue 9 through the real API: python and sh in containers, their egress through the
// sandbox's own proxy channel, and hostile programs that each end as a typed result for
// their own call while the runner goes on serving — under runc and under gVisor.
const coder = makeTestAgent('coder', ['coding']);
let env: TestEnv;
let server: TestServer;
let up: UpstreamEgress;

interface CodeOutput {
  status: string;
  stdout: string;
  stderr: string;
  exitCode?: number;
  value?: string;
  error?: { name: string; message: string };
}

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ed25519Token(coder.privateKey, claimsFor(coder.id))}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

async function code(profile: string, language: 'python' | 'sh', source: string, extra: Record<string, unknown> = {}): Promise<CodeOutput & { sandbox: string }> {
  const res = await post('/v1/invocations', { tool: 'code', input: { language, source, timeoutMs: 20_000, ...extra }, profile });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  const rec = server.audit.records.findLast((r) => r.kind === 'invocation');
  return { ...(res.json.output as CodeOutput), sandbox: String(rec?.sandbox) };
}

/** The runner still answers: its health, and a JavaScript call in an isolate. */
async function stillServing(): Promise<void> {
  const health = await request(`${server.url}/healthz`);
  expect(health.statusCode).toBe(200);
  await health.body.dump();
  const js = await post('/v1/invocations', { tool: 'code', input: { language: 'js', source: '6 * 7' } });
  expect((js.json.output as { value: unknown }).value).toBe(42);
}

beforeAll(async () => {
  up = await startUpstreamEgress();
  env = makeTestEnv([coder], { policyDir: up.config.policyDir, egress: up.config.egress });
  server = await startTestServer(env.config, up.serverOptions);
}, 60_000);

afterAll(async () => {
  // Closing removes the containers still there (up to 10 s of waiting on the engine).
  await server?.close();
  await up?.close();
  env?.cleanup();
}, 60_000);

describeWith('a Docker engine', testDocker !== null, 'container sandboxes through the API', () => {
  it('keeps a Python session\'s variables between calls in a session sandbox', async () => {
    const created = await post('/v1/sandboxes', { profile: 'python' });
    expect(created.status).toBe(201);
    const sandbox = created.json.id as string;
    const run = (source: string) => post('/v1/invocations', { tool: 'code', input: { language: 'python', source }, sandbox });
    expect((await run('x = 1')).json.output).toMatchObject({ status: 'ok' });
    expect((await run('print(x + 1)')).json.output).toMatchObject({ status: 'ok', stdout: '2\n' });
  });

  it('lets Python fetch an allowed test host through the proxy, and refuses and audits a disallowed one with the sandbox id', async () => {
    const source = (url: string) =>
      `import urllib.request, urllib.error\ntry:\n    r = urllib.request.urlopen(${JSON.stringify(url)}, timeout=10)\n    print(r.status, r.read().decode())\nexcept urllib.error.HTTPError as e:\n    print(e.code, e.headers.get('x-cordon-error'))`;
    const before = server.audit.records.length;
    const allowed = await code('python', 'python', source(`http://up.test:${up.upstream.port}/hello`));
    expect(allowed).toMatchObject({ status: 'ok', stdout: `200 hello from 127.0.0.2\n` });
    const egress = server.audit.records.slice(before).filter((r) => r.kind === 'egress');
    expect(egress[0]).toMatchObject({ sandbox: allowed.sandbox, agent: 'coder', decision: { result: 'allow' }, egress: { host: 'up.test', channel: 'unix', status: 200 } });

    const mark = server.audit.records.length;
    const refused = await code('python', 'python', source(`http://evil.test:${up.upstream.port}/`));
    // Refused by the proxy with its reason: the host is in neither the egress policy nor a Cedar permit.
    expect(refused.stdout).toMatch(/^403 (host_not_allowed|policy_denied)\n$/);
    const denied = server.audit.records.slice(mark).filter((r) => r.kind === 'egress');
    expect(denied[0]).toMatchObject({ sandbox: refused.sandbox, decision: { result: 'deny' }, egress: { host: 'evil.test', channel: 'unix' } });
  });

  it('gives pip the same way out: its index requests reach an allowed test host through the sandbox\'s socket', async () => {
    const mark = server.audit.records.length;
    const r = await code('python', 'sh', `pip download --disable-pip-version-check --no-deps -d /tmp/dl --trusted-host up.test --index-url http://up.test:${up.upstream.port}/simple/ cordon-probe 2>&1 | tail -3`);
    // The test host is no package index (and plain http, hence --trusted-host): pip finds nothing
    // there, but it asked it, through the proxy.
    expect(r.stdout).toMatch(/No matching distribution found for cordon-probe/);
    const egress = server.audit.records.slice(mark).filter((x) => x.kind === 'egress');
    expect(egress).toEqual(expect.arrayContaining([expect.objectContaining({ sandbox: r.sandbox, decision: expect.objectContaining({ result: 'allow' }), egress: expect.objectContaining({ host: 'up.test', path: '/simple/cordon-probe/', channel: 'unix' }) })]));
  });

  it('gives curl the same way out, and a direct connection has no route', async () => {
    const r = await code('shell', 'sh', `curl -s http://up.test:${up.upstream.port}/c; echo; curl -s --noproxy '*' --max-time 5 http://127.0.0.2:${up.upstream.port}/ || echo "direct: $?"`);
    expect(r.stdout).toBe('hello from 127.0.0.2\ndirect: 7\n');
  });
});

for (const profile of ['python', 'python-gvisor'] as const) {
  describeWith('a Docker engine', testDocker !== null, `hostile programs in containers (${profile})`, () => {
    const sh = (source: string, timeoutMs = 20_000) => code(profile, 'sh', source, { timeoutMs });
    const py = (source: string, timeoutMs = 20_000) => code(profile, 'python', source, { timeoutMs });

    it('a fork bomb is stopped (pids limit, or the wall clock) and the runner goes on', async () => {
      const r = await sh('bomb() { bomb | bomb & }; bomb; sleep 60', 5000);
      expect(['timeout', 'oom']).toContain(r.status);
      await stillServing();
    });

    it('a memory bomb ends as oom', async () => {
      const r = await py('a = []\nwhile True: a.append(bytearray(10**7))', 60_000);
      expect(r.status).toBe('oom');
      await stillServing();
    });

    it('filling the workspace stops at its size', async () => {
      const r = await sh("dd if=/dev/zero of=/workspace/fill bs=1M count=2000 2>&1 | grep -o 'No space left on device'; du -sm /workspace | cut -f1");
      expect(r.stdout).toMatch(/No space left on device/);
      const usedMb = Number(r.stdout.trim().split('\n').at(-1));
      expect(usedMb).toBeLessThanOrEqual(256);
      expect(usedMb).toBeGreaterThan(200);
      await stillServing();
    });

    it('raw sockets, mounting and new user namespaces are refused', async () => {
      const r = await py([
        'import ctypes, errno, os, socket',
        'out = []',
        'try:\n    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); out.append("raw ok")\nexcept OSError as e:\n    out.append("raw " + errno.errorcode[e.errno])',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'rc = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None); out.append("mount %d %s" % (rc, errno.errorcode.get(ctypes.get_errno(), "0")))',
        'rc = libc.unshare(0x10000000); out.append("unshare %d %s" % (rc, errno.errorcode.get(ctypes.get_errno(), "0")))',
        'print(" | ".join(out))',
      ].join('\n'));
      // gVisor's own kernel lets a process make a user namespace: one of the guest kernel, with
      // nothing of the host's in it (mount still fails above). runc's host kernel refuses it.
      expect(r.stdout).toMatch(profile === 'python' ? /^raw EPERM \| mount -1 EPERM \| unshare -1 EPERM\n$/ : /^raw EPERM \| mount -1 EPERM \| unshare (-1 EPERM|0 \w+)\n$/);
    });

    it('sees no process of the host, cannot ptrace the runner, and finds no Docker socket', async () => {
      const r = await py([
        'import ctypes, errno, os, socket',
        'names = sorted({open("/proc/%s/comm" % p).read().strip() for p in os.listdir("/proc") if p.isdigit()})',
        'print("procs", [n for n in names if n in ("dockerd", "containerd", "node", "runsc-sandbox", "systemd")])',
        'libc = ctypes.CDLL(None, use_errno=True)',
        `rc = libc.ptrace(16, ${process.pid}, None, None); print("ptrace", rc, errno.errorcode.get(ctypes.get_errno(), "0"))`,
        'for path in ("/var/run/docker.sock", "/run/docker.sock"):',
        '    s = socket.socket(socket.AF_UNIX)',
        '    try:\n        s.connect(path); print("docker reachable")\n    except OSError as e:\n        print("docker", errno.errorcode[e.errno])',
        'print("run", sorted(os.listdir("/run/cordon")))',
      ].join('\n'));
      expect(r.status).toBe('ok');
      expect(r.stdout).toContain('procs []\n');
      expect(r.stdout).toMatch(/ptrace -1 (ESRCH|EPERM)\n/);
      expect(r.stdout).toContain('docker ENOENT\ndocker ENOENT\n');
      // The executor's socket is gone once it connected; this sandbox has egress, so its proxy socket is there.
      expect(r.stdout).toContain("run ['egress.sock']\n");
    });
  });
}
