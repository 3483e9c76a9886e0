import type { ChainedRecord } from '../../src/audit/hash-chain.ts';
import { createJsonlAuditLog } from '../../src/audit/jsonl-audit-log.ts';

/**
 * An audit log whose durable batches go to `observe` (set after the log is open, as the runtime's
 * audit wiring does: the checkpointer reads the log when it is made, so it comes second).
 */
export function openObservedLog(path: string): { log: ReturnType<typeof createJsonlAuditLog>; observeWith(fn: (records: readonly ChainedRecord[]) => void): void } {
  let observe: (records: readonly ChainedRecord[]) => void = () => undefined;
  const log = createJsonlAuditLog(path, { onCommit: (records) => observe(records) });
  return { log, observeWith: (fn) => void (observe = fn) };
}
