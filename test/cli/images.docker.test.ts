import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, expect, it } from 'vitest';
import { connectDocker, imageTag, loadImageRecipes, parseDockerHost, readDebianArchive, type ImageRecipe } from '../../src/sandbox/index.ts';
import { runCli } from '../support/cli.ts';
import { describeWith } from '../support/infrastructure.ts';

// Offline images (issue 9, step 1): built from the machine's own Debian archive, imported
// through the Engine API, cached by recipe hash. CI builds them first (`make images`).
const docker: Docker | null = await connectDocker(parseDockerHost(process.env.DOCKER_HOST), 2000).catch(() => null);
const dir = mkdtempSync(join(tmpdir(), 'cordon-images-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `cmd` in a fresh container of `image` with no network, as the recipe's user; removes it. */
async function runIn(engine: Docker, image: string, cmd: string[]): Promise<{ exitCode: number; output: string }> {
  const container = await engine.createContainer({
    Image: image,
    Cmd: cmd,
    User: '1000:1000',
    WorkingDir: '/workspace',
    Labels: { 'cordon.test': 'images' },
    HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true })) as Buffer;
    // Multiplexed frames: an 8-byte header per chunk.
    let output = '';
    for (let i = 0; i + 8 <= logs.length; ) {
      const size = logs.readUInt32BE(i + 4);
      output += logs.subarray(i + 8, i + 8 + size).toString('utf8');
      i += 8 + size;
    }
    return { exitCode: StatusCode, output };
  } finally {
    await container.remove({ force: true });
  }
}

describeWith('a Docker engine', docker !== null, 'container images built offline', () => {
  const recipes = loadImageRecipes();
  const suite = readDebianArchive().suite;

  it('cordon sandboxes build: every recipe has its image, tagged by the recipe hash, and a second build rebuilds nothing', { timeout: 600_000 }, async () => {
    const first = await runCli(dir, ['--data-dir', join(dir, 'data'), 'sandboxes', 'build', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const second = await runCli(dir, ['--data-dir', join(dir, 'data'), 'sandboxes', 'build', '--json']);
    expect(second.code, second.stderr).toBe(0);
    const images = (JSON.parse(second.stdout) as { images: { name: string; tag: string; cached: boolean }[] }).images;
    expect(images.map((i) => i.name).sort()).toEqual([...recipes.keys()].sort());
    for (const image of images) {
      expect(image.cached).toBe(true);
      expect(image.tag).toBe(imageTag(recipes.get(image.name) as ImageRecipe, suite));
    }
  });

  it('the python image runs python3 as the unprivileged user in /workspace, with no network', { timeout: 60_000 }, async () => {
    const tag = imageTag(recipes.get('python') as ImageRecipe, suite);
    const r = await runIn(docker as Docker, tag, ['python3', '-c', 'import os, socket; print(os.getuid(), os.getcwd(), 1 + 1, [n for _, n in socket.if_nameindex()])']);
    expect(r).toEqual({ exitCode: 0, output: "1000 /workspace 2 ['lo']\n" });
  });

  it('the shell image runs sh as the unprivileged user, and keeps no downloaded packages', { timeout: 60_000 }, async () => {
    const tag = imageTag(recipes.get('shell') as ImageRecipe, suite);
    const r = await runIn(docker as Docker, tag, ['sh', '-c', 'id -u; ls /var/cache/apt/archives | grep -c "\\.deb$" || true']);
    expect(r).toEqual({ exitCode: 0, output: '1000\n0\n' });
  });
});
