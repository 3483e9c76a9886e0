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
