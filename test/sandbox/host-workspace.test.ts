import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe } from 'vitest';
import { createHostWorkspace } from '../../src/sandbox/index.ts';
import { workspaceContract } from '../support/workspace-contract.ts';

const run = promisify(execFile);

// The shared workspace suite against a host folder (isolate profiles). Its `sh` is the
// test acting as code that could reach the folder (isolates cannot; a host process could).
describe('a host workspace (isolate profiles)', () => {
  workspaceContract(async () => {
    const base = await mkdtemp(join(tmpdir(), 'cordon-contract-'));
    const workspace = createHostWorkspace(join(base, 'root'));
    await workspace.mkdir({ components: [], relative: '' });
    return {
      workspace,
      outside: join(base, 'outside'),
      sh: async (script) => (await run('/bin/sh', ['-c', script], { cwd: workspace.root })).stdout,
      close: () => rm(base, { recursive: true, force: true }),
    };
  });
});
