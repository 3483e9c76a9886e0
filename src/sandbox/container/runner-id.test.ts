import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { currentRunnerId, isRunnerAlive } from './runner-id.ts';

describe('runner ids', () => {
  it('this process is alive; a process that exited is not, even if its pid were reused', () => {
    expect(isRunnerAlive(currentRunnerId())).toBe(true);
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(require("fs").readFileSync("/proc/self/stat", "utf8"))'], { encoding: 'utf8' });
    const pid = Number(child.stdout.split(' ')[0]);
    const [boot] = currentRunnerId().split(':');
    const start = child.stdout.slice(child.stdout.lastIndexOf(')') + 2).split(' ')[19];
    expect(isRunnerAlive(`${boot}:${pid}:${start}`)).toBe(false);
    // Same pid, another start time: a different process.
    const [, ownPid, ownStart] = currentRunnerId().split(':');
    expect(isRunnerAlive(`${boot}:${ownPid}:${Number(ownStart) + 1}`)).toBe(false);
  });

  it.each(['', 'x', '00000000-0000-0000-0000-000000000000:1:1', 'a:b:c', `${'f'.repeat(36)}:1:1`, '../../etc:1:1'])('%j is not a live runner', (id) => {
    expect(isRunnerAlive(id)).toBe(false);
  });
});
