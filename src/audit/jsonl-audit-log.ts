import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditRecord, AuditSink } from './audit-sink.ts';

/**
 * Appends one JSON line per record. Writes are buffered by the stream and
 * flushed in order; close() waits for everything to reach the file.
 * (The hash chain that makes the log tamper-evident comes with the audit issue.)
 */
export function createJsonlAuditLog(path: string): AuditSink {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  let failure: Error | null = null;
  stream.on('error', (err) => {
    failure = err;
  });
  return {
    append(record) {
      if (failure !== null) throw failure;
      stream.write(JSON.stringify(record) + '\n');
    },
    close() {
      return new Promise((resolve, reject) => {
        stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
    },
  };
}

/** Keeps records in memory; for tests and `policy explain`-style dry runs. */
export function createMemoryAuditSink(): AuditSink & { readonly records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, append: (r) => void records.push(r), close: async () => {} };
}
