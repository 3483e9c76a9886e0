import type { AuditRecord, AuditSink } from './audit-sink.ts';
import { chain, type ChainedRecord, type ChainHead } from './hash-chain.ts';

/**
 * Interim feed for the checkpointer until the log's own `onCommit` (durable group commit) lands:
 * each record appended to `inner` is chained here the same way the log chains it (hash-chain.ts,
 * from the same head), and handed on after `inner.append` returned. It costs a second hash per
 * record; once the log calls onCommit after each durable batch, wire that instead and drop this.
 */
export function createChainObserverSink(inner: AuditSink, head: ChainHead, onCommit: (records: readonly ChainedRecord[]) => void): AuditSink {
  let at = head;
  return {
    append(record: AuditRecord) {
      inner.append(record);
      const linked = chain(record, at);
      at = { seq: linked.seq, hash: linked.hash };
      onCommit([linked]);
    },
    close: () => inner.close(),
  };
}
