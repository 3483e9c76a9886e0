import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseWorkspacePath, type ContainerBackend, type Sandbox } from '../../src/sandbox/index.ts';
import { containerIdentity, createTestContainerBackend, runRequest, testContainerSettings, testDocker, type Runtime } from '../support/container-sandbox.ts';
import { rejectionCode } from '../support/cordon-errors.ts';
import { describeWith } from '../support/infrastructure.ts';
import { workspaceContract } from '../support/workspace-contract.ts';

const p = parseWorkspacePath;

/** The sandbox's own shell: a call's stdout, or a rejection saying how it failed. */
async function shIn(sandbox: Sandbox, script: string): Promise<string> {
  const result = await sandbox.run(runRequest('sh', script, { timeoutMs: 30_000 }));
  if (result.status !== 'ok') throw new Error(`sh failed (${result.status}, exit ${result.exitCode}): ${result.stderr}${result.error?.message ?? ''}`);
  return result.stdout;
}

// The shared workspace suite (test/support/workspace-contract.ts) against a container's
// /workspace through its executor, under runc (the shell image) and gVisor (the Python image).
const runs: readonly (readonly ['shell' | 'python', Runtime])[] = [['shell', 'runc'], ['python', 'runsc']];
for (const [recipe, runtime] of runs) {
  describeWith('a Docker engine', testDocker !== null, `a container workspace (${recipe}, ${runtime})`, () => {
    workspaceContract(async () => {
      const settings = testContainerSettings(recipe, runtime);
      const backend = createTestContainerBackend([settings]);
      const sandbox = await backend.create({ identity: containerIdentity(settings.profile), persistent: true, memoryMb: 128, egress: null });
      return {
        workspace: sandbox.workspace,
        // The sandbox user's /tmp: outside /workspace (another mount), writable by the sandbox's code.
        outside: '/tmp/cordon-outside',
        sh: (script) => shIn(sandbox, script),
        close: async () => {
          await sandbox.dispose();
          await backend.close();
        },
      };
    });
  });

  describeWith('a Docker engine', testDocker !== null, `container workspaces beyond the contract (${recipe}, ${runtime})`, () => {
    const settings = testContainerSettings(recipe, runtime);
    let backend: ContainerBackend;
    const made: Sandbox[] = [];
    const create = async (persistent: boolean) => {
      const s = await backend.create({ identity: containerIdentity(settings.profile), persistent, memoryMb: 128, egress: null });
      made.push(s);
      return s;
    };
    beforeAll(() => {
      backend = createTestContainerBackend([settings]);
    });
    afterAll(async () => {
      await Promise.all(made.map((s) => s.dispose()));
      await backend.close();
    }, 60_000);

    it('a per-call sandbox has a workspace: its container starts for the first op, and its call sees the files', async () => {
      const s = await create(false);
      await s.workspace.mkdir(p('src'));
      await s.workspace.write(p('src/main.sh'), Buffer.from('echo from the workspace\n'), { maxBytes: 1000 });
      expect((await s.workspace.list(p(''), { depth: 2, maxEntries: 10 })).entries.map((e) => e.path)).toEqual(['src', 'src/main.sh']);
      const result = await s.run(runRequest('sh', 'sh src/main.sh'));
      expect(result.stdout).toBe('from the workspace\n');
      // The call ended the per-call sandbox, and its workspace with it.
      expect(s.alive()).toBe(false);
      expect(await rejectionCode(s.workspace.stat(p('src')))).toBe('SANDBOX_FAILED');
    }, 60_000);

    it('a write larger than one frame arrives whole; one past the workspace\'s size is FS_TOO_LARGE and leaves nothing', async () => {
      const s = await create(true);
      // 9 MiB: three frames, in a 16 MiB workspace.
      const big = Buffer.alloc(9 * 1024 * 1024, 7);
      big.write('head', 0);
      big.write('tail', big.length - 4);
      await s.workspace.write(p('big.bin'), big, { maxBytes: 32 << 20 });
      expect(await shIn(s, 'wc -c < big.bin; head -c 4 big.bin; echo; tail -c 4 big.bin')).toBe(`${big.length}\nhead\ntail`);
      const read = await s.workspace.read(p('big.bin'), { offset: big.length - 4, maxBytes: 100 });
      expect(read).toEqual({ content: Buffer.from('tail'), sizeBytes: big.length, truncated: false });
      const full = s.workspace.write(p('more.bin'), Buffer.alloc(12 * 1024 * 1024), { maxBytes: 32 << 20 });
      await expect(full).rejects.toMatchObject({ code: 'FS_TOO_LARGE', details: { reason: 'workspace_full' } });
      // No temp file is left behind, and the sandbox goes on.
      expect(await shIn(s, 'ls -A')).toBe('big.bin\n');
      expect(s.alive()).toBe(true);
    }, 120_000);

    it('lists names as the host does: non-ASCII names whole, one that is not UTF-8 left out, and the sandbox goes on', async () => {
      const s = await create(true);
      // printf's octal escapes: "caf\303\251", an emoji (4 bytes in UTF-8), and a lone \377 byte.
      await shIn(s, String.raw`printf a > "$(printf 'caf\303\251')" && printf bb > "$(printf '\360\237\246\212')" && printf c > "$(printf 'bad\377name')" && printf d > plain`);
      expect(await shIn(s, `python3 -c 'import os; print(sorted(os.listdir(b".")))'`)).toBe(String.raw`[b'bad\xffname', b'caf\xc3\xa9', b'plain', b'\xf0\x9f\xa6\x8a']` + '\n');
      const listed = await s.workspace.list(p(''), { depth: 1, maxEntries: 10 });
      // JavaScript's order (UTF-16 code units): the emoji's surrogates sort after "é".
      expect(listed).toEqual({
        entries: [
          { path: 'café', type: 'file', sizeBytes: 1 },
          { path: 'plain', type: 'file', sizeBytes: 1 },
          { path: '🦊', type: 'file', sizeBytes: 2 },
        ],
        truncated: false,
      });
      expect((await s.workspace.read(p('🦊'), { maxBytes: 10 })).content.toString()).toBe('bb');
      expect(s.alive()).toBe(true);
    }, 60_000);

    it('nothing reaches a directory outside through a link, as find sees it (ls fails under this gVisor: statx)', async () => {
      const s = await create(true);
      await shIn(s, 'mkdir -p /tmp/out2 && printf canary > /tmp/out2/canary.txt && ln -s /tmp/out2 out && ln -s /tmp/out2/canary.txt c && mkdir sub && printf x > sub/x');
      const ws = s.workspace;
      const codes = await Promise.all([
        ws.write(p('out/new.txt'), Buffer.from('pwned'), { maxBytes: 10 }),
        ws.write(p('out/canary.txt'), Buffer.from('pwned'), { maxBytes: 10 }),
        ws.mkdir(p('out/dir')),
        ws.move(p('sub/x'), p('out/x'), {}),
        ws.move(p('out/canary.txt'), p('stolen'), {}),
        ws.remove(p('out/canary.txt'), {}),
        ws.list(p('out'), { depth: 2, maxEntries: 10 }),
        ws.read(p('c'), { maxBytes: 100 }),
      ].map((call) => rejectionCode(call)));
      expect(codes).toEqual(Array(8).fill('FS_OUTSIDE_WORKSPACE'));
      await ws.remove(p('out'), {});
      await ws.write(p('c'), Buffer.from('mine'), { maxBytes: 10 });
      expect(await shIn(s, 'find /tmp/out2 -mindepth 1; cat /tmp/out2/canary.txt; echo; test -L out || echo gone; cat c')).toBe('/tmp/out2/canary.txt\ncanary\ngone\nmine');
    }, 60_000);

    it('a sandbox whose executor its code killed: a workspace op fails with SANDBOX_FAILED, and the backend goes on', async () => {
      const s = await create(true);
      // SIGTERM to the executor (the shell's parent), as code in the sandbox may do.
      await s.run(runRequest('sh', 'kill -TERM $PPID; sleep 5', { timeoutMs: 20_000 })).catch(() => undefined);
      expect(await rejectionCode(s.workspace.write(p('a'), Buffer.from('x'), { maxBytes: 10 }))).toBe('SANDBOX_FAILED');
      expect(s.alive()).toBe(false);
      const next = await create(true);
      await next.workspace.write(p('a'), Buffer.from('x'), { maxBytes: 10 });
      expect(await shIn(next, 'cat a')).toBe('x');
    }, 60_000);
  });
}
