import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { parseWorkspacePath, type SandboxWorkspace } from '../../src/sandbox/index.ts';
import { rejectionCode } from './cordon-errors.ts';

/**
 * What the shared workspace suite needs from a backend: its workspace, and a shell that
 * acts as the sandbox's own code would (making links, FIFOs, racing the file tools).
 */
export interface WorkspaceFixture {
  readonly workspace: SandboxWorkspace;
  /** Runs `script` with /bin/sh in the workspace root, as the sandbox's code; resolves with its stdout. */
  sh(script: string): Promise<string>;
  /** A directory outside the workspace, as `sh` sees it, holding `canary.txt`; the suite never may touch it. */
  readonly outside: string;
  close(): Promise<void>;
}

export const CANARY = 'canary: nobody may read or change this';
const MAX = { maxBytes: 1 << 20 };
const p = parseWorkspacePath;

/**
 * One suite, run against every backend (issue 10: the same calls give the same results).
 * Call inside a describe block; `make` is called once, and the workspace is emptied
 * before each test.
 */
export function workspaceContract(make: () => Promise<WorkspaceFixture>): void {
  let fx: WorkspaceFixture;
  let ws: SandboxWorkspace;
  // find, not ls: ls fails under gVisor (statx answers EINVAL) and would compare nothing.
  const outsideState = () => fx.sh(`find ${fx.outside} -mindepth 1 | sort; cat ${fx.outside}/canary.txt`);
  let outsideBefore = '';

  beforeAll(async () => {
    fx = await make();
    ws = fx.workspace;
    await fx.sh(`rm -rf ${fx.outside} && mkdir -p ${fx.outside} && printf '%s' '${CANARY}' > ${fx.outside}/canary.txt`);
    outsideBefore = await outsideState();
  }, 120_000);
  afterAll(async () => {
    await fx?.close();
  }, 60_000);
  beforeEach(async () => {
    await fx.sh('find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +');
    // Nothing any test did reached outside.
    expect(await outsideState()).toBe(outsideBefore);
  }, 30_000);

  const text = async (path: string) => (await ws.read(p(path), MAX)).content.toString('utf8');

  it('writes and reads back the same bytes; offset, limit and maxBytes cut a read and say so', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255, 10]);
    await ws.write(p('bin.dat'), bytes, MAX);
    expect(await ws.read(p('bin.dat'), MAX)).toEqual({ content: bytes, sizeBytes: 10, truncated: false });
    expect(await ws.read(p('/workspace/bin.dat'), { offset: 3, limit: 4, maxBytes: 100 })).toEqual({ content: bytes.subarray(3, 7), sizeBytes: 10, truncated: true });
    expect(await ws.read(p('bin.dat'), { maxBytes: 2 })).toEqual({ content: bytes.subarray(0, 2), sizeBytes: 10, truncated: true });
    expect(await ws.read(p('bin.dat'), { offset: 50, maxBytes: 100 })).toEqual({ content: Buffer.alloc(0), sizeBytes: 10, truncated: false });
    expect(await fx.sh('od -An -tu1 bin.dat | tr -s " " | sed "s/^ //"')).toBe('0 1 2 250 251 252 253 254 255 10\n');
  });

  it('replaces a file whole; createOnly refuses an existing one and changes nothing', async () => {
    await ws.write(p('a.txt'), Buffer.from('one'), MAX);
    await ws.write(p('a.txt'), Buffer.from('two'), MAX);
    expect(await text('a.txt')).toBe('two');
    expect(await rejectionCode(ws.write(p('a.txt'), Buffer.from('three'), { ...MAX, createOnly: true }))).toBe('FS_EXISTS');
    await ws.write(p('b.txt'), Buffer.from('new'), { ...MAX, createOnly: true });
    expect(await text('a.txt')).toBe('two');
    expect(await text('b.txt')).toBe('new');
    // No temporary file is left behind by either.
    expect((await ws.list(p(''), { depth: 1, maxEntries: 10 })).entries.map((e) => e.path)).toEqual(['a.txt', 'b.txt']);
  });

  it('a reader racing writers sees the old bytes or the new, never a mix', async () => {
    const a = Buffer.alloc(256 * 1024, 'a');
    const b = Buffer.alloc(256 * 1024, 'b');
    await ws.write(p('race.txt'), a, MAX);
    const seen = new Set<string>();
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 30; i += 1) {
      calls.push(ws.write(p('race.txt'), i % 2 === 0 ? b : a, MAX));
      calls.push(ws.read(p('race.txt'), MAX).then((r) => void seen.add(r.content.equals(a) ? 'a' : r.content.equals(b) ? 'b' : `mixed ${r.content.length}`)));
    }
    await Promise.all(calls);
    expect([...seen].filter((v) => v !== 'a' && v !== 'b')).toEqual([]);
  }, 60_000);

  it('keeps an existing file\'s permission bits when it replaces it', async () => {
    await fx.sh('printf x > run.sh && chmod 755 run.sh');
    await ws.write(p('run.sh'), Buffer.from('echo hi\n'), MAX);
    expect((await ws.stat(p('run.sh'))).mode & 0o777).toBe(0o755);
    expect(await fx.sh('./run.sh')).toBe('hi\n');
  });

  it('refuses with typed errors: missing, a directory, a file as a parent, no parent, too large', async () => {
    await fx.sh('mkdir d && printf x > f');
    expect(await rejectionCode(ws.read(p('nope.txt'), MAX))).toBe('FS_NOT_FOUND');
    expect(await rejectionCode(ws.read(p('d'), MAX))).toBe('FS_NOT_A_FILE');
    expect(await rejectionCode(ws.read(p(''), MAX))).toBe('FS_NOT_A_FILE');
    expect(await rejectionCode(ws.read(p('f/x'), MAX))).toBe('FS_NOT_A_DIRECTORY');
    expect(await rejectionCode(ws.write(p('d'), Buffer.from('x'), MAX))).toBe('FS_NOT_A_FILE');
    expect(await rejectionCode(ws.write(p('no/such/dir.txt'), Buffer.from('x'), MAX))).toBe('FS_NOT_FOUND');
    expect(await rejectionCode(ws.write(p('big.txt'), Buffer.alloc(11), { maxBytes: 10 }))).toBe('FS_TOO_LARGE');
    expect(await rejectionCode(ws.stat(p('big.txt')))).toBe('FS_NOT_FOUND');
  });

  it('stats files, directories, links (never followed) and the root', async () => {
    await fx.sh('mkdir d && printf hello > f && ln -s f link');
    expect(await ws.stat(p('f'))).toMatchObject({ path: 'f', type: 'file', sizeBytes: 5 });
    expect(await ws.stat(p('d'))).toMatchObject({ path: 'd', type: 'directory' });
    expect(await ws.stat(p('link'))).toMatchObject({ path: 'link', type: 'symlink' });
    expect(await ws.stat(p(''))).toMatchObject({ path: '', type: 'directory' });
    const st = await ws.stat(p('f'));
    expect(st.mtimeMs).toBeGreaterThan(Date.UTC(2020, 0, 1));
  });

  it('lists in sorted walk order to a depth, stops at maxEntries, and never descends a link', async () => {
    await fx.sh('mkdir -p src/lib && printf a > src/a.ts && printf bb > src/lib/b.ts && printf r > README.md && ln -s src linked');
    expect((await ws.list(p(''), { depth: 1, maxEntries: 100 })).entries).toEqual([
      { path: 'README.md', type: 'file', sizeBytes: 1 },
      { path: 'linked', type: 'symlink', sizeBytes: 3 },
      { path: 'src', type: 'directory', sizeBytes: expect.any(Number) as number },
    ]);
    const all = await ws.list(p(''), { depth: 10, maxEntries: 100 });
    expect(all.entries.map((e) => e.path)).toEqual(['README.md', 'linked', 'src', 'src/a.ts', 'src/lib', 'src/lib/b.ts']);
    expect(all.truncated).toBe(false);
    expect((await ws.list(p('src'), { depth: 1, maxEntries: 100 })).entries.map((e) => e.path)).toEqual(['src/a.ts', 'src/lib']);
    const cut = await ws.list(p(''), { depth: 10, maxEntries: 2 });
    expect(cut).toEqual({ entries: [expect.objectContaining({ path: 'README.md' }), expect.objectContaining({ path: 'linked' })], truncated: true });
    expect(await rejectionCode(ws.list(p('README.md'), { depth: 1, maxEntries: 2 }))).toBe('FS_NOT_A_DIRECTORY');
    expect(await rejectionCode(ws.list(p('missing'), { depth: 1, maxEntries: 2 }))).toBe('FS_NOT_FOUND');
  });

  it('makes directories with their parents; an existing one is fine, a file on the way is not', async () => {
    await ws.mkdir(p('a/b/c'));
    await ws.mkdir(p('a/b'));
    expect(await fx.sh('test -d a/b/c && echo yes')).toBe('yes\n');
    await ws.write(p('a/f'), Buffer.from('x'), MAX);
    expect(await rejectionCode(ws.mkdir(p('a/f/g')))).toBe('FS_NOT_A_DIRECTORY');
    expect(await rejectionCode(ws.mkdir(p('a/f')))).toBe('FS_NOT_A_DIRECTORY');
  });

  it('moves files and directories; refuses to overwrite unless asked, the root, and into itself', async () => {
    await fx.sh('mkdir -p d/e && printf f > d/e/f.txt && printf g > g.txt');
    await ws.move(p('g.txt'), p('d/g2.txt'), {});
    expect(await text('d/g2.txt')).toBe('g');
    expect(await rejectionCode(ws.stat(p('g.txt')))).toBe('FS_NOT_FOUND');
    await ws.move(p('d/e'), p('e2'), {});
    expect(await text('e2/f.txt')).toBe('f');
    await fx.sh('printf h > h.txt');
    expect(await rejectionCode(ws.move(p('h.txt'), p('d/g2.txt'), {}))).toBe('FS_EXISTS');
    expect(await text('d/g2.txt')).toBe('g');
    await ws.move(p('h.txt'), p('d/g2.txt'), { overwrite: true });
    expect(await text('d/g2.txt')).toBe('h');
    expect(await rejectionCode(ws.move(p(''), p('x'), {}))).toBe('FS_INVALID_PATH');
    expect(await rejectionCode(ws.move(p('d'), p(''), {}))).toBe('FS_INVALID_PATH');
    expect(await rejectionCode(ws.move(p('d'), p('d/inner'), {}))).toBe('FS_INVALID_PATH');
    expect(await rejectionCode(ws.move(p('missing'), p('x'), {}))).toBe('FS_NOT_FOUND');
  });

  it('removes files, links (not their targets) and, only when asked, whole directories', async () => {
    await fx.sh('mkdir -p d/e && printf f > d/e/f.txt && printf g > g.txt && ln -s g.txt gl');
    await ws.remove(p('gl'), {});
    expect(await text('g.txt')).toBe('g');
    await ws.remove(p('g.txt'), {});
    expect(await rejectionCode(ws.stat(p('g.txt')))).toBe('FS_NOT_FOUND');
    expect(await rejectionCode(ws.remove(p('d'), {}))).toBe('FS_NOT_A_FILE');
    expect(await text('d/e/f.txt')).toBe('f');
    await ws.remove(p('d'), { recursive: true });
    expect(await rejectionCode(ws.stat(p('d')))).toBe('FS_NOT_FOUND');
    expect(await rejectionCode(ws.remove(p(''), { recursive: true }))).toBe('FS_INVALID_PATH');
    expect(await rejectionCode(ws.remove(p('missing'), {}))).toBe('FS_NOT_FOUND');
  });

  it('never follows a link the sandbox made, inside or out, on any operation', async () => {
    await fx.sh(`mkdir sub && printf inner > sub/inner.txt && ln -s ${fx.outside} link-out && ln -s ${fx.outside}/canary.txt file-out && ln -s sub link-in && ln -s sub/inner.txt file-in`);
    for (const path of ['link-out/canary.txt', 'file-out', 'link-in/inner.txt', 'file-in']) {
      expect(await rejectionCode(ws.read(p(path), MAX)), `read ${path}`).toBe('FS_OUTSIDE_WORKSPACE');
    }
    for (const path of ['link-out/new.txt', 'link-out/canary.txt', 'link-in/new.txt']) {
      expect(await rejectionCode(ws.write(p(path), Buffer.from('pwned'), MAX)), `write ${path}`).toBe('FS_OUTSIDE_WORKSPACE');
    }
    expect(await rejectionCode(ws.list(p('link-out'), { depth: 2, maxEntries: 10 }))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(ws.stat(p('link-out/canary.txt')))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(ws.mkdir(p('link-out/x')))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(ws.move(p('sub/inner.txt'), p('link-out/x'), {}))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(ws.move(p('link-out/canary.txt'), p('stolen'), {}))).toBe('FS_OUTSIDE_WORKSPACE');
    expect(await rejectionCode(ws.remove(p('link-out/canary.txt'), {}))).toBe('FS_OUTSIDE_WORKSPACE');
    // Writing at a link's own name replaces the link with a file: its target is never written.
    await ws.write(p('file-out'), Buffer.from('mine'), MAX);
    expect(await ws.stat(p('file-out'))).toMatchObject({ type: 'file', sizeBytes: 4 });
    // Removing a directory that holds a link to the outside removes the link, not what it points at.
    await fx.sh(`mkdir -p tree && ln -s ${fx.outside} tree/out`);
    await ws.remove(p('tree'), { recursive: true });
    await ws.remove(p('link-out'), {});
    expect(await outsideState()).toBe(outsideBefore);
  });

  it('refuses a FIFO as "not a file", without hanging on it', async () => {
    await fx.sh('mkfifo pipe');
    expect(await rejectionCode(ws.read(p('pipe'), MAX))).toBe('FS_NOT_A_FILE');
    expect(await ws.stat(p('pipe'))).toMatchObject({ type: 'other' });
  });

  it('a directory swapped for a link to the outside while calls run: no read or write gets out', async () => {
    // The sandbox's own code, in the background, flips `d` between a real directory and a link
    // to the outside as fast as it can, while the workspace reads and writes through `d`.
    await fx.sh('mkdir realdir && printf inside > realdir/f');
    await fx.sh(`(i=0; while [ $i -lt 200 ]; do mv -T realdir d; mv -T d realdir; ln -s ${fx.outside} d; rm d; i=$((i+1)); done; touch swap.done) >/dev/null 2>&1 &`);
    const seen = new Set<string>();
    const note = (what: Promise<string>) => what.then((v) => void seen.add(v), (err: { code?: string }) => void seen.add(err.code ?? String(err)));
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 150; i += 1) {
      calls.push(note(ws.read(p('d/f'), MAX).then((r) => r.content.toString('utf8'))));
      calls.push(note(ws.write(p('d/canary.txt'), Buffer.from('pwned'), MAX).then(() => 'wrote')));
    }
    await Promise.all(calls);
    for (let i = 0; i < 600 && (await fx.sh('test -f swap.done && echo y || true')) !== 'y\n'; i += 1) await new Promise((r) => setTimeout(r, 50));
    expect(seen.has(CANARY)).toBe(false);
    // Only the answers a real directory, a link, or nothing at all can give.
    expect([...seen].filter((v) => !['inside', 'wrote', 'FS_OUTSIDE_WORKSPACE', 'FS_NOT_FOUND', 'FS_NOT_A_DIRECTORY'].includes(v))).toEqual([]);
    expect(await outsideState()).toBe(outsideBefore);
    // Under gVisor the loop alone takes ~15 s; the budget is for a loaded machine, not a speed check.
  }, 180_000);
}
