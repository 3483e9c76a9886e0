import { describe, expect, it } from 'vitest';
import { hardenedContainerConfig } from './hardened-container.ts';

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

  it.each([0, 999, -1, 1.5])('refuses uid %s: code never runs as root or a system account', (uid) => {
    expect(() => hardenedContainerConfig({ ...spec, uid })).toThrow(RangeError);
  });
});
