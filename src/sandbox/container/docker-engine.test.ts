import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCordonError } from '../../core/errors.ts';
import { connectDocker, parseDockerHost } from './docker-engine.ts';

describe('DOCKER_HOST', () => {
  it.each([
    [undefined, { socketPath: '/var/run/docker.sock' }],
    ['', { socketPath: '/var/run/docker.sock' }],
    ['unix:///run/user/1000/docker.sock', { socketPath: '/run/user/1000/docker.sock' }],
    ['tcp://127.0.0.1:2375', { host: '127.0.0.1', port: 2375 }],
    ['tcp://[::1]:2375', { host: '::1', port: 2375 }],
  ])('%s', (value, endpoint) => {
    expect(parseDockerHost(value)).toEqual(endpoint);
  });

  it.each(['unix://relative.sock', 'tcp://127.0.0.1', 'tcp://127.0.0.1:0', 'tcp://127.0.0.1:99999', 'ssh://user@host', 'http://127.0.0.1:2375', 'tcp://a b:1'])('refuses %s with CONFIG_INVALID', (value) => {
    expect(() => parseDockerHost(value)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('no engine at the socket: SANDBOX_UNAVAILABLE saying how to get one', async () => {
    const err: unknown = await connectDocker({ socketPath: '/nonexistent/cordon-test-docker.sock' }, 500).catch((e: unknown) => e);
    expect(isCordonError(err) && err.code).toBe('SANDBOX_UNAVAILABLE');
    expect((err as Error).message).toMatch(/docker\.io/);
  });
});

describe('the engine client', () => {
  it('the ping timeout bounds the ping only: a slow request later is still answered', async () => {
    // A loopback engine of our own: the ping answers at once, a container removal after 1.5 s
    // (a gVisor sandbox after a fork bomb takes seconds to remove).
    const dir = mkdtempSync(join(tmpdir(), 'cordon-docker-'));
    const socketPath = join(dir, 'engine.sock');
    const server = createServer((req, res) => {
      if (req.url?.endsWith('/_ping') === true) return void res.end('OK');
      setTimeout(() => { res.statusCode = 204; res.end(); }, 1500);
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const docker = await connectDocker({ socketPath }, 300);
      await expect(docker.getContainer('c1').remove({ force: true })).resolves.toBeDefined();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an engine that never answers its ping: SANDBOX_UNAVAILABLE within the ping timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-docker-'));
    const socketPath = join(dir, 'engine.sock');
    const held: ServerResponse[] = [];
    const server = createServer((_req, res) => void held.push(res));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const err: unknown = await connectDocker({ socketPath }, 300).catch((e: unknown) => e);
      expect(isCordonError(err) && err.code).toBe('SANDBOX_UNAVAILABLE');
    } finally {
      for (const res of held) res.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
