import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * An OS-level memory cap for one isolate host. isolated-vm's memoryLimit is a
 * guideline ("a determined attacker could use 2-3 times this limit"), and some
 * memory is not on the V8 heap at all, so the host process as a whole is capped:
 *
 * - cgroup: the kernel kills the host the moment it passes its cap (cgroup v1
 *   `memory.limit_in_bytes`, or v2 `memory.max`, with swap off so it cannot
 *   page out instead). Used where a memory cgroup is writable (root, usually).
 * - rss: elsewhere, the supervisor reads the host's resident size every 25 ms and
 *   kills it when it passes the cap. Coarser: a fast allocation can overshoot by
 *   what it allocates in one interval before the kill.
 */
export type MemoryCapMode = 'auto' | 'cgroup' | 'rss';

export interface HostCap {
  /** True when this host died because it passed its cap. */
  hitCap(): boolean;
  release(): void;
}

export interface MemoryCap {
  readonly kind: 'cgroup-v1' | 'cgroup-v2' | 'rss';
  /** Starts capping `pid`; `kill` is how the rss watcher ends it. */
  attach(pid: number, kill: () => void): HostCap;
  close(): void;
}

const RSS_POLL_MS = 25;
const PAGE_BYTES = 4096;

export function createMemoryCap(mode: MemoryCapMode, capMb: number, label: string): MemoryCap {
  if (mode !== 'rss') {
    const cgroup = openCgroupRoot(label);
    if (cgroup !== null) return cgroupCap(cgroup, capMb);
    if (mode === 'cgroup') throw new Error('no writable memory cgroup (v1 memory controller or v2 with the memory controller enabled); use memoryCap: rss or auto');
  }
  return rssCap(capMb);
}

interface CgroupRoot {
  readonly version: 1 | 2;
  readonly dir: string;
}

/** Finds the memory controller's mount and makes a folder for this runner's hosts there. */
function openCgroupRoot(label: string): CgroupRoot | null {
  let mountinfo: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  const candidates: CgroupRoot[] = [];
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (pre === undefined || post === undefined) continue;
    const mountPoint = pre.split(' ')[4];
    const [fsType, , superOpts] = post.split(' ');
    if (mountPoint === undefined) continue;
    if (fsType === 'cgroup' && (superOpts ?? '').split(',').includes('memory')) candidates.push({ version: 1, dir: mountPoint });
    if (fsType === 'cgroup2') candidates.push({ version: 2, dir: mountPoint });
  }
  for (const c of candidates.sort((a, b) => a.version - b.version)) {
    reapOrphans(c.dir);
    const dir = join(c.dir, `cordon-${label}`);
    try {
      mkdirSync(dir, { recursive: true });
      if (c.version === 2) {
        // v2: the memory controller must be enabled for our children.
        const controllers = readFileSync(join(dir, 'cgroup.controllers'), 'utf8');
        if (!controllers.split(/\s+/).includes('memory')) throw new Error('memory controller not delegated');
        writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory');
      } else if (!existsSync(join(dir, 'memory.limit_in_bytes'))) {
        throw new Error('not a memory cgroup');
      }
      return { version: c.version, dir };
    } catch {
      try {
        rmdirSync(dir);
      } catch {
        // Not ours to keep, or not empty: leave it.
      }
    }
  }
  return null;
}

/**
 * Folders left by a runner that died without cleaning up (its label ends in its PID):
 * their hosts ended with it (a host exits when its parent's channel closes), so the
 * empty cgroups can go.
 */
function reapOrphans(mount: string): void {
  let names: string[];
  try {
    names = readdirSync(mount);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^cordon-(?:.*-)?(\d+)$/.exec(name)?.[1];
    if (pid === undefined || pidAlive(Number(pid))) continue;
    const dir = join(mount, name);
    try {
      for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) rmdirSync(join(dir, sub.name));
      rmdirSync(dir);
    } catch {
      // Still has a process in it, or not ours to remove: leave it.
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cgroupCap(root: CgroupRoot, capMb: number): MemoryCap {
  const bytes = String(capMb * 1024 * 1024);
  let seq = 0;
  return {
    kind: root.version === 1 ? 'cgroup-v1' : 'cgroup-v2',
    attach(pid) {
      const dir = join(root.dir, `host-${pid}-${seq++}`);
      mkdirSync(dir);
      if (root.version === 1) {
        writeFileSync(join(dir, 'memory.limit_in_bytes'), bytes);
        // With swap accounting on, cap memory+swap too, or the kernel swaps instead of killing.
        tryWrite(join(dir, 'memory.memsw.limit_in_bytes'), bytes);
        tryWrite(join(dir, 'memory.swappiness'), '0');
      } else {
        writeFileSync(join(dir, 'memory.max'), bytes);
        tryWrite(join(dir, 'memory.swap.max'), '0');
      }
      writeFileSync(join(dir, 'cgroup.procs'), String(pid));
      return {
        hitCap() {
          try {
            if (root.version === 1) {
              const oom = /oom_kill (\d+)/.exec(readFileSync(join(dir, 'memory.oom_control'), 'utf8'));
              if (oom !== null) return Number(oom[1]) > 0;
              return Number(readFileSync(join(dir, 'memory.failcnt'), 'utf8')) > 0;
            }
            const events = /oom_kill (\d+)/.exec(readFileSync(join(dir, 'memory.events'), 'utf8'));
            return events !== null && Number(events[1]) > 0;
          } catch {
            return false;
          }
        },
        release() {
          removeLater(dir, 10);
        },
      };
    },
    close() {
      removeLater(root.dir, 10);
    },
  };
}

function rssCap(capMb: number): MemoryCap {
  const capBytes = capMb * 1024 * 1024;
  return {
    kind: 'rss',
    attach(pid, kill) {
      let over = false;
      let reading = false;
      const timer = setInterval(() => {
        if (reading) return;
        reading = true;
        readFile(`/proc/${pid}/statm`, 'utf8').then(
          (statm) => {
            reading = false;
            const residentPages = Number(statm.split(' ')[1]);
            if (!over && residentPages * PAGE_BYTES > capBytes) {
              over = true;
              kill();
            }
          },
          () => {
            reading = false;
          },
        );
      }, RSS_POLL_MS);
      timer.unref();
      return {
        hitCap: () => over,
        release: () => clearInterval(timer),
      };
    },
    close() {},
  };
}

function tryWrite(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch {
    // Optional knob (no swap accounting, say): the main limit still holds.
  }
}

/** A cgroup can be removed only once its processes are gone; the exit event may come first. */
function removeLater(dir: string, tries: number): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (tries > 0) setTimeout(() => removeLater(dir, tries - 1), 50).unref();
  }
}
