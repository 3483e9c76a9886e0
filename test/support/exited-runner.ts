import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { currentRunnerId } from '../../src/sandbox/index.ts';

/** The runner id a process had, taken while it ran, once it has exited: what a kill -9'd runner leaves behind. */
export async function exitedRunnerId(): Promise<string> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not start a child process');
  const id = currentRunnerId(child.pid);
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  return id;
}
