import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { expect, it } from 'vitest';
import { connectDocker, currentRunnerId, hardenedContainerConfig, imageTag, loadImageRecipes, parseDockerHost, readDebianArchive, type ImageRecipe } from '../../src/sandbox/index.ts';
import { runCli } from '../support/cli.ts';
import { exitedRunnerId } from '../support/exited-runner.ts';
import { describeWith } from '../support/infrastructure.ts';

// Issue 9, garbage collection: a runner that crashed leaves containers no one will remove;
// `cordon sandboxes gc` removes exactly those, never a live runner's.
const docker: Docker | null = await connectDocker(parseDockerHost(process.env.DOCKER_HOST), 2000).catch(() => null);

describeWith('a Docker engine', docker !== null, 'container garbage collection', () => {
  it('gc removes the containers of a runner that is gone and keeps a live runner\'s; ls shows which is which', { timeout: 60_000 }, async () => {
    const engine = docker as Docker;
    const recipe = loadImageRecipes().get('shell') as ImageRecipe;
    const image = imageTag(recipe, readDebianArchive().suite);
    const limits = { memoryMb: 32, cpus: 0.5, pids: 16, workspaceMb: 1, tmpMb: 1 };
    const make = async (sandboxId: string, runnerId: string) => {
      const c = await engine.createContainer(hardenedContainerConfig({ image, runtime: 'runc', uid: recipe.user.uid, limits, sandboxId, runnerId, cmd: ['sleep', 'infinity'] }));
      await c.start();
      return c;
    };
    const dir = mkdtempSync(join(tmpdir(), 'cordon-gc-'));
    const live = await make('sbx_gc_live', currentRunnerId());
    const orphan = await make('sbx_gc_orphan', await exitedRunnerId());
    try {
      const ls = await runCli(dir, ['sandboxes', 'ls', '--json']);
      expect(ls.code, ls.stderr).toBe(0);
      const listed = (JSON.parse(ls.stdout) as { containers: { sandbox: string; runnerAlive: boolean }[] }).containers;
      expect(listed).toEqual(expect.arrayContaining([expect.objectContaining({ sandbox: 'sbx_gc_live', runnerAlive: true })]));
      // Any runner starting meanwhile (another test's `cordon serve`) removes the orphan too, as it
      // should: it may be gone already, but it is never listed as a live runner's.
      expect(listed.filter((c) => c.sandbox === 'sbx_gc_orphan').every((c) => !c.runnerAlive)).toBe(true);

      const gc = await runCli(dir, ['sandboxes', 'gc', '--json']);
      expect(gc.code, gc.stderr).toBe(0);
      const removed = (JSON.parse(gc.stdout) as { removed: { sandbox: string }[] }).removed.map((c) => c.sandbox);
      expect(removed).not.toContain('sbx_gc_live');
      await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect((await live.inspect()).State.Running).toBe(true);
    } finally {
      await live.remove({ force: true });
      await orphan.remove({ force: true }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
