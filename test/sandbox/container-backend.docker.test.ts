import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ContainerBackend, Sandbox } from '../../src/sandbox/index.ts';
import { containerIdentity, createTestContainerBackend, runRequest, testContainerSettings, testDocker, type Runtime } from '../support/container-sandbox.ts';
import { describeWith } from '../support/infrastructure.ts';

// Issue 9: code in containers, through the executor inside each one. Every hostile outcome
// is a typed result for its own call, and the backend (this process) goes on.
for (const runtime of ['runc', 'runsc'] as const satisfies readonly Runtime[]) {
  describeWith('a Docker engine', testDocker !== null, `container sandboxes (${runtime})`, () => {
    const python = testContainerSettings('python', runtime);
    const shell = testContainerSettings('shell', runtime);
    let backend: ContainerBackend;
    const made: Sandbox[] = [];
    const session = async (profile = python.profile) => {
      const s = await backend.create({ identity: containerIdentity(profile), persistent: true, memoryMb: 128, egress: null });
      made.push(s);
      return s;
    };
    beforeAll(() => {
      backend = createTestContainerBackend([python, shell]);
    });
    // Removing containers gVisor is still tearing down can take a while on a loaded machine.
    afterAll(async () => {
      await Promise.all(made.map((s) => s.dispose()));
      await backend.close();
    }, 60_000);

    it('keeps a Python session\'s variables from call to call, and returns a final expression\'s repr', async () => {
      const s = await session();
      expect(await s.run(runRequest('python', 'x = 1'))).toMatchObject({ status: 'ok', stdout: '' });
      expect(await s.run(runRequest('python', 'print(x + 1)\n{"k": x}'))).toMatchObject({ status: 'ok', stdout: '2\n', value: "{'k': 1}" });
      const err = await s.run(runRequest('python', 'y = 2\nraise ValueError("boom")'));
      expect(err).toMatchObject({ status: 'error', error: { name: 'ValueError', message: 'boom', line: 2 } });
      expect(err.stderr).toContain('File "<cell>", line 2');
    });

    it('gives code no descriptor of the executor\'s: no socket, and its stdin is empty', async () => {
      const s = await session();
      const r = await s.run(runRequest('python', [
        'import os, sys',
        'kinds = set()',
        'for f in os.listdir("/proc/self/fd"):',
        '    try:\n        kinds.add(os.readlink("/proc/self/fd/" + f).split(":")[0])\n    except OSError:\n        pass',
        'print(sorted(kinds))',
        'print(repr(sys.stdin.read()))',
      ].join('\n')));
      expect(r.stdout).toMatch(/pipe/);
      expect(r.stdout).not.toContain('socket');
      expect(r.stdout).toMatch(/\n''\n$/);
      const sh = await s.run(runRequest('sh', 'ls -l /proc/$$/fd 2>/dev/null | grep -c socket || true; cat'));
      expect(sh.stdout).toBe('0\n');
    });

    it('runs sh as the unprivileged user in /workspace, with its exit code and both streams', async () => {
      const s = await session(shell.profile);
      const r = await s.run(runRequest('sh', 'id -u; pwd; echo oops >&2; exit 3'));
      expect(r).toMatchObject({ status: 'error', exitCode: 3, stdout: '1000\n/workspace\n', stderr: 'oops\n', truncated: false });
      expect(await s.run(runRequest('sh', 'echo kept > notes.txt'))).toMatchObject({ status: 'ok', exitCode: 0 });
      expect((await s.run(runRequest('sh', 'cat notes.txt'))).stdout).toBe('kept\n');
      // The workspace executes what code puts there (a built tool, a compiled extension); /tmp does not.
      const exec = await s.run(runRequest('sh', "printf '#!/bin/sh\\necho ran\\n' > w.sh; chmod +x w.sh; ./w.sh; cp w.sh /tmp/w.sh; /tmp/w.sh 2>&1 | grep -o 'Permission denied'"));
      expect(exec.stdout).toBe('ran\nPermission denied\n');
    });

    it('cuts output at the call\'s cap and says so', async () => {
      const s = await session(shell.profile);
      const r = await s.run(runRequest('sh', 'yes | head -c 100000; yes e | head -c 1000 >&2', { outputBytes: 1000 }));
      expect(r.stdout.length + r.stderr.length).toBeLessThanOrEqual(1000);
      expect(r.stdout.length).toBe(1000);
      expect(r.truncated).toBe(true);
      expect(r.status).toBe('ok');
    });

    it('ends code past its wall-clock limit as a timeout; the session, its files and its container go on', async () => {
      const s = await session();
      await s.run(runRequest('sh', 'echo before > f.txt'));
      const r = await s.run(runRequest('python', 'import time\nwhile True: time.sleep(0.01)', { timeoutMs: 500 }));
      expect(r).toMatchObject({ status: 'timeout', error: { name: 'TimeoutError' } });
      expect(s.alive()).toBe(true);
      expect((await s.run(runRequest('sh', 'cat f.txt'))).stdout).toBe('before\n');
      // A background process left by the code is ended too: nothing keeps running past the limit.
      await s.run(runRequest('sh', '(sleep 1000 &) ; sleep 1000', { timeoutMs: 500 }));
      expect((await s.run(runRequest('sh', 'ps -e -o comm= 2>/dev/null | grep -c sleep || true'))).stdout.trim()).toBe('0');
    });

    it('ends a memory bomb as oom, and the backend goes on serving', async () => {
      const s = await session();
      const r = await s.run(runRequest('python', 'a = []\nwhile True: a.append(bytearray(10**7))', { timeoutMs: 60_000 }));
      expect(r.status).toBe('oom');
      expect(r.error?.name).toBe('MemoryError');
      const next = await session();
      expect((await next.run(runRequest('python', 'print(6 * 7)'))).stdout).toBe('42\n');
    });

    it('ends a sandbox whose executor is killed from inside as a typed result for its own call', async () => {
      const s = await session();
      // SIGTERM: under gVisor a sandbox killed outright (exit 137) reads as out of memory.
      const r = await s.run(runRequest('python', 'import os, signal\nos.kill(os.getppid(), signal.SIGTERM)\nimport time\ntime.sleep(30)', { timeoutMs: 20_000 }));
      expect(r.status).toBe('error');
      expect(r.error?.name).toBe('SandboxExit');
      expect(s.alive()).toBe(false);
      await expect(s.run(runRequest('python', '1'))).rejects.toMatchObject({ code: 'SANDBOX_FAILED' });
    });

    it('holds an agent to its share of session containers, counting those still starting, and frees a share when one ends', async () => {
      const small = createTestContainerBackend([python], { maxSessionsPerAgent: 2 });
      try {
        const create = () => small.create({ identity: containerIdentity(python.profile, 'agent-quota'), persistent: true, memoryMb: 128, egress: null });
        const results = await Promise.allSettled([create(), create(), create(), create()]);
        const made = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        expect(made).toHaveLength(2);
        expect(results.filter((r) => r.status === 'rejected').map((r) => (r.reason as { details: { quota: string } }).details.quota)).toEqual(['agent_container_sessions', 'agent_container_sessions']);
        // Another agent has its own share.
        const other = await small.create({ identity: containerIdentity(python.profile, 'agent-other'), persistent: true, memoryMb: 128, egress: null });
        await (made[0] as Sandbox).dispose();
        const again = await create();
        expect((await again.run(runRequest('python', 'print(3)'))).stdout).toBe('3\n');
        await Promise.all([again.dispose(), other.dispose(), (made[1] as Sandbox).dispose()]);
      } finally {
        await small.close();
      }
    });

    it('removes a per-call sandbox\'s container after its call', async () => {
      const identity = containerIdentity(python.profile);
      const s = await backend.create({ identity, persistent: false, memoryMb: 128, egress: null });
      expect((await s.run(runRequest('python', 'print("once")'))).stdout).toBe('once\n');
      expect(s.alive()).toBe(false);
      // Removal runs after the answer; the engine forgets the container shortly after.
      let left = 1;
      for (let i = 0; i < 100 && left > 0; i++) {
        left = (await testDocker?.listContainers({ all: true, filters: JSON.stringify({ name: [`cordon-${identity.id}`] }) }))?.length ?? 0;
        if (left > 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(left).toBe(0);
    });
  });
}
