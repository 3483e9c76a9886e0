import { close, existsSync, fdatasync, fsync, open, rename, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CordonError } from '../core/errors.ts';
import type { AuditRecord } from './audit-sink.ts';
import { auditUnavailable } from './audit-unavailable.ts';
import { rotatedFileName } from './chain-files.ts';
import { chain, type ChainedRecord, type ChainHead } from './hash-chain.ts';

/** `durable`: a record is reported written once it is fdatasync'ed; `buffered`: once write() returned. */
export type AuditDurability = 'durable' | 'buffered';

/**
 * The file system calls the log makes per batch. Tests pass their own to count calls or to
 * fail one (disk full, I/O error) without touching globals.
 */
export interface AuditFs {
  /** Writes from the start of `data`; returns how many bytes it took (fewer is a short write). */
  write(fd: number, data: Buffer): Promise<number>;
  fdatasync(fd: number): Promise<void>;
}

export const nodeAuditFs: AuditFs = {
  // Synchronous: a batch is a few tens of KiB into the page cache, far cheaper than a trip
  // through the thread pool; the sync that waits for the disk is the asynchronous call.
  write: (fd, data) => {
    try {
      return Promise.resolve(writeSync(fd, data, 0, data.length, null));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  },
  fdatasync: (fd) => new Promise((done, fail) => fdatasync(fd, (err) => (err ? fail(err) : done()))),
};

export interface GroupCommitOptions {
  readonly durability: AuditDurability;
  /** After a batch leaves the live file larger than this, it is rotated (chain-files.ts). */
  readonly rotateBytes: number;
  readonly fs: AuditFs;
  /** Said once, when the log fails; every append after it is refused without another word. */
  readonly onFailure: (err: CordonError) => void;
  /**
   * After each batch is written (durable: on disk), with its records in chain order, before
   * their appends resolve: a checkpoint signer sees every record before any caller answers.
   * It must not throw; if it does, the log fails like a failed write (fail closed).
   */
  readonly onCommit?: (records: readonly ChainedRecord[]) => void;
}

interface Pending {
  readonly record: ChainedRecord;
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: CordonError) => void;
}

export interface GroupCommitLog {
  append(record: AuditRecord): Promise<void>;
  /** Waits for every pending batch, then closes the file. */
  close(): Promise<void>;
}

const promised = <T>(call: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> =>
  new Promise((done, fail) => call((err, value) => (err ? fail(err) : done(value))));

/**
 * Group commit: records appended while a batch is being written and synced wait together for
 * the next one, so N concurrent calls cost one write and one fdatasync, not N. The chain link
 * (seq, prev, hash) is made synchronously in append(): the file's order is the append order.
 *
 * Fail closed: once a write, sync or rotation fails, the log is failed for good. The batch
 * that failed and every append after it are refused (AUDIT_UNAVAILABLE), so no record past the
 * failure is ever reported written, and no call that needs one is answered as if it were.
 */
export function createGroupCommitLog(path: string, fd0: number, size0: number, head0: ChainHead, options: GroupCommitOptions): GroupCommitLog {
  let fd = fd0;
  let size = size0;
  let head = head0;
  let queue: Pending[] = [];
  let busy = false;
  let scheduled = false;
  let failure: CordonError | null = null;
  let closed = false;
  let idle: (() => void)[] = [];

  const fail = (err: unknown, batch: readonly Pending[]) => {
    if (failure === null) {
      failure = auditUnavailable(err);
      options.onFailure(failure);
    }
    const refused = failure;
    for (const p of batch) p.reject(refused);
    for (const p of queue) p.reject(refused);
    queue = [];
  };

  const settle = () => {
    busy = false;
    if (queue.length > 0 && failure === null) schedule();
    else for (const done of idle.splice(0)) done();
  };

  // setImmediate, not a microtask: callers whose appends just resolved append their next
  // record first, and it joins this batch instead of waiting a whole sync for the next.
  const schedule = () => {
    if (busy || scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void flush();
    });
  };

  const writeAll = async (data: Buffer) => {
    for (let at = 0; at < data.length; ) {
      const n = await options.fs.write(fd, at === 0 ? data : data.subarray(at));
      if (n <= 0) throw Object.assign(new Error('the audit log took no bytes'), { code: 'EIO' });
      at += n;
    }
  };

  const rotate = async (lastSeq: number) => {
    const target = rotatedFileName(path, lastSeq);
    // rename() would replace a file of that name: a chain that started over (a damaged log
    // moved aside) reuses seqs, and rotating must never overwrite older records. Fail instead.
    if (existsSync(target)) throw Object.assign(new Error(`${target} exists; not overwriting it`), { code: 'EEXIST' });
    await promised<void>((cb) => close(fd, (err) => cb(err, undefined)));
    await promised<void>((cb) => rename(path, target, (err) => cb(err, undefined)));
    fd = await promised<number>((cb) => open(path, 'a', 0o600, cb));
    size = 0;
    // The rename itself must survive a crash, or the chain would resume in the old file's name.
    const dir = await promised<number>((cb) => open(dirname(path), 'r', cb));
    try {
      await promised<void>((cb) => fsync(dir, (err) => cb(err, undefined)));
    } finally {
      close(dir, () => undefined);
    }
  };

  const flush = async () => {
    if (failure !== null || queue.length === 0) return settle();
    busy = true;
    const batch = queue;
    queue = [];
    try {
      const data = Buffer.from(batch.map((p) => p.line).join(''), 'utf8');
      await writeAll(data);
      size += data.length;
      if (options.durability === 'durable') await options.fs.fdatasync(fd);
      options.onCommit?.(batch.map((p) => p.record));
    } catch (err) {
      fail(err, batch);
      return settle();
    }
    for (const p of batch) p.resolve();
    if (size > options.rotateBytes) {
      try {
        await rotate(batch[batch.length - 1]?.record.seq ?? head.seq);
      } catch (err) {
        fail(err, []);
      }
    }
    settle();
  };

  return {
    append(record) {
      if (failure !== null) return Promise.reject(failure);
      if (closed) return Promise.reject(auditUnavailable(Object.assign(new Error('the audit log is closed'), { code: 'ECLOSED' })));
      const linked = chain(record, head);
      head = { seq: linked.seq, hash: linked.hash };
      const line = JSON.stringify(linked) + '\n';
      return new Promise<void>((resolve, reject) => {
        queue.push({ record: linked, line, resolve, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
      if (busy || scheduled || queue.length > 0) await new Promise<void>((done) => idle.push(done));
      idle = [];
      await promised<void>((cb) => close(fd, (err) => cb(err, undefined))).catch(() => undefined);
    },
  };
}
