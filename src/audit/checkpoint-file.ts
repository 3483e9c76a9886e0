import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The latest signed checkpoint of a log lives beside it: `audit.jsonl` → `audit.jsonl.checkpoint`. */
export function checkpointPath(logPath: string): string {
  return `${logPath}.checkpoint`;
}

/**
 * A checkpoint the runner found at start-up that its log no longer matches (the log is shorter
 * than the checkpoint, or its records hash to another root) is kept as evidence under this name,
 * never overwritten: `cordon audit verify` reports it until an operator removes it.
 */
export function rejectedCheckpointPath(logPath: string, at: Date): string {
  return `${checkpointPath(logPath)}.rejected-${at.toISOString().replaceAll(':', '-')}`;
}

/** The checkpoint files `cordon audit verify` reads beside a log: the latest and every rejected one. */
export async function listCheckpointFiles(logPath: string): Promise<string[]> {
  const dir = dirname(logPath);
  const latest = basename(checkpointPath(logPath));
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n === latest || n.startsWith(`${latest}.rejected-`)).sort().map((n) => join(dir, n));
}

/**
 * Replaces `path` with `text` so a reader (or a crash) sees the old file or the new one, never
 * half of one: write a temporary file, fsync it, rename over, fsync the directory.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A checkpoint file's bytes, bounded: a note is small, and a huge file is no checkpoint. */
export async function readCheckpointFile(path: string, maxBytes: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
