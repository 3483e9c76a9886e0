import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CANARY_TEXT = 'canary: nobody may read or change this\n';

/**
 * A temp directory holding a workspace root and a sibling "outside" directory with a
 * canary file, for checking that file operations never reach outside the root.
 */
export interface TempWorkspace {
  readonly base: string;
  readonly root: string;
  readonly outside: string;
  readonly canary: string;
  /** The outside directory's entries and the canary's content, to compare before and after. */
  outsideSnapshot(): Promise<{ entries: string[]; canary: string }>;
  cleanup(): Promise<void>;
}

export async function createTempWorkspace(): Promise<TempWorkspace> {
  const base = await mkdtemp(join(tmpdir(), 'cordon-ws-'));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  const canary = join(outside, 'canary.txt');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(canary, CANARY_TEXT);
  return {
    base,
    root,
    outside,
    canary,
    async outsideSnapshot() {
      return { entries: (await readdir(outside, { recursive: true })).sort(), canary: await readFile(canary, 'utf8') };
    },
    async cleanup() {
      await rm(base, { recursive: true, force: true });
    },
  };
}
