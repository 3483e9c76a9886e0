import { describe, expect, it } from 'vitest';
import { hardenedContainerConfig, runscHostTaskLimit } from './hardened-container.ts';

const spec = {
  image: 'cordon/python:0123456789abcdef', runtime: 'runc' as const, uid: 1000,
  limits: { memoryMb: 128, cpus: 0.5, pids: 64, workspaceMb: 16, tmpMb: 8 }, sandboxId: 'sbx_1', runnerId: 'run_1', cmd: ['sleep', 'infinity'],
};

describe('hardened container config', () => {
  it('carries every hardening setting and the Cordon labels, and mounts nothing of the host', () => {
    const c = hardenedContainerConfig(spec);
    expect(c.User).toBe('1000:1000');
    expect(c.Labels).toEqual({ 'cordon.sandbox': 'sbx_1', 'cordon.runner': 'run_1' });
    expect(c.HostConfig).toMatchObject({
      Runtime: 'runc', NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'],
      PidsLimit: 64, Memory: (128 + 16 + 8) * 1024 * 1024, MemorySwap: (128 + 16 + 8) * 1024 * 1024, NanoCpus: 500_000_000, Privileged: false, Binds: [], Devices: [],
    });
    expect(c.HostConfig?.Tmpfs?.['/workspace']).toContain('size=16m,uid=1000,gid=1000');
    expect(c.HostConfig?.Mounts).toBeUndefined();
    expect(c.HostConfig?.SecurityOpt?.some((o: string) => o.includes('unconfined'))).toBe(false);
  });

  it('binds only the sandbox\'s own run directory, read-only, at /run/cordon', () => {
    const c = hardenedContainerConfig({ ...spec, runDir: '/data/containers/sbx_1' });
    expect(c.HostConfig?.Binds).toEqual(['/data/containers/sbx_1:/run/cordon:ro']);
    expect(c.HostConfig?.Init).toBe(true);
  });

  it('under runc the pids cgroup bounds the code\'s tasks, and no RLIMIT_NPROC is set (runc counts it per uid across the host)', () => {
    const c = hardenedContainerConfig(spec);
    expect(c.HostConfig?.PidsLimit).toBe(64);
    expect(c.HostConfig?.Ulimits).toBeUndefined();
  });

  it('under runsc RLIMIT_NPROC bounds the code\'s tasks inside gVisor, and the pids cgroup leaves room for gVisor\'s own host tasks', () => {
    const c = hardenedContainerConfig({ ...spec, runtime: 'runsc' });
    expect(c.HostConfig).toMatchObject({
      Runtime: 'runsc', NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'],
      Memory: (128 + 16 + 8) * 1024 * 1024, MemorySwap: (128 + 16 + 8) * 1024 * 1024, NanoCpus: 500_000_000, Privileged: false, Binds: [], Devices: [],
    });
    expect(c.HostConfig?.Ulimits).toEqual([{ Name: 'nproc', Soft: 64, Hard: 64 }]);
    expect(c.HostConfig?.PidsLimit).toBe(runscHostTaskLimit(64));
    // gVisor's Sentry, gofer and ptrace stubs took ~40 host tasks idle and ~450 for 63 guest processes (~7 each).
    expect(runscHostTaskLimit(64)).toBeGreaterThan(40 + 7 * 64);
    expect(c.HostConfig?.Tmpfs).toEqual(hardenedContainerConfig(spec).HostConfig?.Tmpfs);
  });

  it.each([0, 999, -1, 1.5])('refuses uid %s: code never runs as root or a system account', (uid) => {
    expect(() => hardenedContainerConfig({ ...spec, uid })).toThrow(RangeError);
  });
});
