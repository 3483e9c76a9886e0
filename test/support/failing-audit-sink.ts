import type { AuditRecord, AuditSink } from '../../src/audit/audit-sink.ts';

/**
 * An audit sink that keeps records in memory until one matches `failOn`; that append and
 * every one after it reject (fail closed, as the JSONL log does after a failed write or sync).
 * `records` holds only what was written; `refused` what was not.
 */
export function createFailingAuditSink(failOn: (record: AuditRecord) => boolean): AuditSink & { readonly records: AuditRecord[]; readonly refused: AuditRecord[] } {
  const records: AuditRecord[] = [];
  const refused: AuditRecord[] = [];
  let failed = false;
  return {
    records,
    refused,
    append(record) {
      if (failed || failOn(record)) {
        failed = true;
        refused.push(record);
        return Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      }
      records.push(record);
      return Promise.resolve();
    },
    close: async () => {},
  };
}
