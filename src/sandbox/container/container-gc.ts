import type Docker from 'dockerode';
import { CORDON_RUNNER_LABEL, CORDON_SANDBOX_LABEL } from './hardened-container.ts';
import { isRunnerAlive } from '../../core/runner-id.ts';

export interface CordonContainer {
  readonly id: string;
  readonly sandbox: string;
  readonly runner: string;
  readonly state: string;
  readonly image: string;
  readonly createdAt: string;
  /** False when the runner that made it is gone: nothing will ever remove it but gc. */
  readonly runnerAlive: boolean;
}

/** Every container with Cordon's labels, running or not. */
export async function listCordonContainers(docker: Docker): Promise<CordonContainer[]> {
  const all = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [CORDON_SANDBOX_LABEL] }) });
  return all.map((c) => {
    const runner = c.Labels[CORDON_RUNNER_LABEL] ?? '';
    return { id: c.Id, sandbox: c.Labels[CORDON_SANDBOX_LABEL] ?? '', runner, state: c.State, image: c.Image, createdAt: new Date(c.Created * 1000).toISOString(), runnerAlive: isRunnerAlive(runner) };
  });
}

/**
 * Removes Cordon containers whose runner is gone (a crash, a kill -9): their sandboxes ended
 * with it. Containers of a live runner are its own to remove, never another's.
 */
export async function removeOrphanContainers(docker: Docker): Promise<CordonContainer[]> {
  const orphans = (await listCordonContainers(docker)).filter((c) => !c.runnerAlive);
  for (const c of orphans) {
    try {
      await docker.getContainer(c.id).remove({ force: true });
    } catch (err) {
      // Already gone (another gc, or Docker's own cleanup): what we wanted.
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
  return orphans;
}
