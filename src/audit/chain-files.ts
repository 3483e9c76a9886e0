import { openSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Rotated files are named by the seq of their last record, zero-padded so names sort in chain order. */
const SEQ_DIGITS = 12;

/**
 * The file a log rotates to when it passes its size limit: `audit.jsonl` whose last record
 * is seq 4711 becomes `audit-000000004711.jsonl` beside it, and the chain goes on in a new
 * `audit.jsonl` (its first record's `prev` is that file's last hash).
 */
export function rotatedFileName(path: string, lastSeq: number): string {
  return join(dirname(path), `${basename(path, '.jsonl')}-${String(lastSeq).padStart(SEQ_DIGITS, '0')}.jsonl`);
}

/**
 * Every file of one chain, oldest first: the rotated files in seq order, then the live file.
 * (The live file is listed even if it does not exist yet.)
 */
export function listChainFiles(path: string): string[] {
  const dir = dirname(path);
  const stem = basename(path, '.jsonl');
  const rotated = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{${SEQ_DIGITS}})\\.jsonl$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  return [...names.filter((n) => rotated.test(n)).sort().map((n) => join(dir, n)), path];
}

/** Opens one of a chain's files for reading; null when it is not there (a live file not made yet). */
export function openChainFile(file: string): number | null {
  try {
    return openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
