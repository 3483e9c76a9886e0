import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { listChainFiles, openChainFile } from './chain-files.ts';

/** One line of a log as `cordon audit tail` sees it: a record, or a line that is none. */
export type TailEntry = { readonly record: Readonly<Record<string, unknown>> } | { readonly malformed: string };

export interface TailFilter {
  /** Only records of this agent. */
  readonly agent?: string;
}

/** Read backwards in chunks of this size; a record is far smaller. */
const CHUNK_BYTES = 256 * 1024;
/** A line longer than this is reported as malformed, not held in memory whole. */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

function parse(line: string): TailEntry {
  try {
    const v = JSON.parse(line) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return { record: v as Record<string, unknown> };
  } catch {
    // reported below
  }
  return { malformed: line.slice(0, 200) };
}

function matches(entry: TailEntry, filter: TailFilter): boolean {
  if (filter.agent === undefined) return true;
  return 'record' in entry && entry.record.agent === filter.agent;
}

/**
 * The last `count` entries that match, oldest first, across the chain's files (rotated ones
 * too). Reads backwards from the end, so the cost is the tail's size, not the log's.
 * A torn last line (a write a crash cut) is not an entry.
 */
export function readAuditTail(path: string, count: number, filter: TailFilter = {}): TailEntry[] {
  const found: TailEntry[] = [];
  const files = listChainFiles(path).reverse();
  for (const file of files) {
    if (found.length >= count) break;
    const fd = openChainFile(file);
    if (fd === null) continue;
    try {
      collectBackwards(fd, count, filter, found);
    } finally {
      closeSync(fd);
    }
  }
  return found.slice(0, count).reverse();
}

/** Adds the file's matching entries, newest first, to `found` until it holds `count`. */
function collectBackwards(fd: number, count: number, filter: TailFilter, found: TailEntry[]): void {
  let end = fstatSync(fd).size;
  let carry = Buffer.alloc(0);
  let atEnd = true;
  while (end > 0 && found.length < count) {
    const start = Math.max(0, end - CHUNK_BYTES);
    const chunk = Buffer.alloc(end - start);
    readSync(fd, chunk, 0, chunk.length, start);
    end = start;
    let buf = Buffer.concat([chunk, carry]);
    if (atEnd) {
      // The bytes after the last newline are a torn write, not a record.
      const last = buf.lastIndexOf(0x0a);
      buf = last === -1 ? Buffer.alloc(0) : buf.subarray(0, last + 1);
      if (last === -1 && start > 0) {
        carry = Buffer.alloc(0);
        continue;
      }
      atEnd = false;
    }
    // Everything after the first newline in the buffer is whole lines; what precedes it waits for the next chunk.
    const first = start === 0 ? -1 : buf.indexOf(0x0a);
    const whole = buf.subarray(first + 1);
    carry = first === -1 ? Buffer.alloc(0) : buf.subarray(0, first + 1);
    if (carry.length > MAX_LINE_BYTES) {
      found.push({ malformed: `a line of over ${MAX_LINE_BYTES} bytes` });
      carry = Buffer.alloc(0);
    }
    const lines = whole.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0 && found.length < count; i--) {
      const line = lines[i] ?? '';
      if (line === '') continue;
      const entry = parse(line);
      if (matches(entry, filter)) found.push(entry);
    }
  }
}

export interface FollowOptions extends TailFilter {
  readonly signal: AbortSignal;
  /** How often the file is looked at; a few times a second is enough for a person watching. */
  readonly pollMs?: number;
}

/**
 * Calls `onEntry` for each whole line written to the log from now on. When the log rotates
 * (the live file is renamed and a new one starts), the rest of the old file is read first,
 * then the new file from its start, so nothing is skipped. Ends when `signal` aborts.
 */
export async function followAuditLog(path: string, onEntry: (entry: TailEntry) => void, options: FollowOptions): Promise<void> {
  const pollMs = options.pollMs ?? 250;
  let fd: number | null = null;
  let ino = -1;
  let offset = 0;
  let pending = Buffer.alloc(0);
  const open = (fromStart: boolean): void => {
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fd = null;
      return;
    }
    const st = fstatSync(fd);
    ino = st.ino;
    offset = fromStart ? 0 : st.size;
    pending = Buffer.alloc(0);
  };
  const drain = (): void => {
    if (fd === null) return;
    const size = fstatSync(fd).size;
    if (size < offset) offset = 0; // cut back (a repair at open): start over
    while (offset < size) {
      const chunk = Buffer.alloc(Math.min(CHUNK_BYTES, size - offset));
      const n = readSync(fd, chunk, 0, chunk.length, offset);
      if (n === 0) break;
      offset += n;
      pending = Buffer.concat([pending, chunk.subarray(0, n)]);
      let nl: number;
      while ((nl = pending.indexOf(0x0a)) !== -1) {
        const line = pending.subarray(0, nl).toString('utf8');
        pending = pending.subarray(nl + 1);
        if (line === '') continue;
        const entry = parse(line);
        if (matches(entry, options)) onEntry(entry);
      }
      if (pending.length > MAX_LINE_BYTES) {
        onEntry({ malformed: `a line of over ${MAX_LINE_BYTES} bytes` });
        pending = Buffer.alloc(0);
      }
    }
  };
  open(false);
  try {
    while (!options.signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        options.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      drain();
      let now: number;
      try {
        now = statSync(path).ino;
      } catch {
        now = -1;
      }
      if (now !== ino) {
        // Rotated (or created): the old file is complete now; the new one is read from its start.
        drain();
        if (fd !== null) closeSync(fd);
        open(true);
        drain();
      }
    }
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
