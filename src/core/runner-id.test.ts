import { describe, expect, it } from 'vitest';
import { exitedRunnerId } from '../../test/support/exited-runner.ts';
import { currentRunnerId, isRunnerAlive } from './runner-id.ts';

describe('runner ids', () => {
  it('this process is alive; a process that exited is not, even if its pid were reused', async () => {
    expect(isRunnerAlive(currentRunnerId())).toBe(true);
    expect(isRunnerAlive(await exitedRunnerId())).toBe(false);
    // Same pid, another start time: a different process.
    const [boot, ownPid, ownStart] = currentRunnerId().split(':');
    expect(isRunnerAlive(`${boot}:${ownPid}:${Number(ownStart) + 1}`)).toBe(false);
  });

  it.each(['', 'x', '00000000-0000-0000-0000-000000000000:1:1', 'a:b:c', `${'f'.repeat(36)}:1:1`, '../../etc:1:1'])('%j is not a live runner', (id) => {
    expect(isRunnerAlive(id)).toBe(false);
  });
});
