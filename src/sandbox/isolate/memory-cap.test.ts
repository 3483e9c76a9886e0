import { afterEach, describe, expect, it } from 'vitest';
import { describeWith } from '../../../test/support/infrastructure.ts';
import { startHostProcess, type HostDeath, type HostProcess } from './host-process.ts';
import { createMemoryCap, type MemoryCap, type MemoryCapMode } from './memory-cap.ts';

// The OS-level cap is the hard limit isolated-vm's memoryLimit is not: a host that passes
// it is killed, and its call reports oom. The isolate's own limit is set far above the
// cap here, so only the cap can stop the allocation.
const CAP_MB = 200;
const CAPS = { outputBytes: 1024, resultBytes: 1024, requestBytes: 1024 };
let hosts: HostProcess[] = [];
let caps: MemoryCap[] = [];

afterEach(() => {
  for (const h of hosts) h.kill({ kind: 'retired', detail: 'test over' });
  for (const c of caps) c.close();
  hosts = [];
  caps = [];
});

function cgroupWritable(): boolean {
  try {
    createMemoryCap('cgroup', CAP_MB, `probe-${process.pid}`).close();
    return true;
  } catch {
    return false;
  }
}

async function bomb(mode: MemoryCapMode): Promise<{ death: HostDeath | null; kind: string; status: string | null }> {
  const cap = createMemoryCap(mode, CAP_MB, `captest-${process.pid}`);
  caps.push(cap);
  let death: HostDeath | null = null;
  const host = startHostProcess({ owner: 'a', memoryCap: cap, capMb: CAP_MB, warmIsolates: 0, warmMemoryMb: 64, caps: CAPS, onExit: (_h, d) => (death = d) });
  hosts.push(host);
  await host.ready;
  // 1 GB of heap allowed to the isolate; the host's cap is 200 MB.
  const outcome = await host.run({
    session: null,
    source: 'const keep = []; for (;;) keep.push(new Float64Array(1 << 20).fill(1))',
    limits: { memoryMb: 1024, timeoutMs: 20_000, cpuTimeMs: 20_000, outputBytes: 1024, resultBytes: 1024 },
    fetch: null,
    fetchMaxBytes: 0,
  });
  return { death: outcome.ok ? death : outcome.death, kind: cap.kind, status: outcome.ok ? outcome.result.status : null };
}

describe('memory cap: RSS watch', () => {
  it('kills a host that passes its cap; its call reports oom', async () => {
    const r = await bomb('rss');
    expect(r.kind).toBe('rss');
    expect(r.status).toBeNull();
    expect(r.death).toMatchObject({ kind: 'oom', detail: expect.stringContaining(`memory cap of ${CAP_MB} MB`) });
  });
});

describeWith('a writable memory cgroup (root)', cgroupWritable(), 'memory cap: cgroup', () => {
  it('the kernel kills a host that passes its cap; its call reports oom', async () => {
    const r = await bomb('cgroup');
    expect(r.kind).toMatch(/^cgroup-v[12]$/);
    expect(r.status).toBeNull();
    expect(r.death).toMatchObject({ kind: 'oom', detail: expect.stringContaining(`memory cap of ${CAP_MB} MB`) });
  });
});

describe('memory cap: modes', () => {
  it('auto picks a cgroup where one is writable, else the RSS watch', () => {
    const cap = createMemoryCap('auto', CAP_MB, `auto-${process.pid}`);
    caps.push(cap);
    expect(cap.kind).toEqual(cgroupWritable() ? expect.stringMatching(/^cgroup/) : 'rss');
  });
});
