import { basename } from 'node:path';
import type { AuditSink } from '../../audit/audit-sink.ts';
import { createChainObserverSink } from '../../audit/chain-observer-sink.ts';
import { createCheckpointer, type Checkpointer } from '../../audit/checkpointer.ts';
import { createJsonlAuditLog } from '../../audit/jsonl-audit-log.ts';
import { createInvocationIndex, createReceiptStore, type ReceiptStore } from '../../audit/receipt-store.ts';
import { createNoteSigner, formatVerifierKey } from '../../audit/signed-note.ts';
import type { CordonConfig } from '../../config/config-schema.ts';
import type { Logger } from '../../core/logger.ts';
import { loadOrCreateSigningKey } from '../../identity/signing-keys.ts';
import { auditLogPath, auditOrigin } from '../audit-admin.ts';

export interface AuditWiring {
  /** The sink records go to (before redaction wraps it). */
  readonly sink: AuditSink;
  /** The file this runner writes (another runner may hold the data directory's log). */
  readonly path: string;
  readonly checkpointer: Checkpointer | null;
  readonly receipts: ReceiptStore | null;
  close(): Promise<void>;
}

/**
 * The audit log, its signed checkpoints and the receipt index. A sink given by a test replaces
 * all three: an in-memory sink has no file to checkpoint.
 */
export function wireAudit(config: CordonConfig, options: { logger: Logger; override?: AuditSink }): AuditWiring {
  const wanted = auditLogPath(config);
  if (options.override !== undefined) {
    const sink = options.override;
    return { sink, path: wanted, checkpointer: null, receipts: null, close: () => sink.close() };
  }
  const warn = (what: string) => options.logger.warn({ audit: wanted }, what);
  const log = createJsonlAuditLog(wanted, { onRepair: warn });
  // A second chain beside the data directory's (another runner holds it) is another log: its own origin.
  const origin = log.path === wanted ? auditOrigin(config) : `${auditOrigin(config)}/${basename(log.path, '.jsonl')}`;
  const signer = createNoteSigner(origin, loadOrCreateSigningKey(config.dataDir, 'audit').privateKey);
  const index = createInvocationIndex();
  const checkpointer = createCheckpointer({
    logPath: log.path,
    origin,
    signer,
    every: config.audit.checkpointEvery,
    intervalMs: config.audit.checkpointIntervalMs,
    mirror: config.audit.checkpointMirror,
    onWarning: warn,
    onRecord: index.add,
  });
  const receipts = createReceiptStore({ checkpointer, index, logPath: log.path, verifierKey: formatVerifierKey(signer) });
  // Until the log calls onCommit after each durable batch (group commit), records are observed
  // as they are appended; wire `onCommit` to these two calls when it lands.
  const sink = createChainObserverSink(log, checkpointer.head, (records) => {
    receipts.observe(records);
    checkpointer.observe(records);
  });
  return {
    sink,
    path: log.path,
    checkpointer,
    receipts,
    async close() {
      // The last records reach the file first; the final checkpoint then covers them.
      await sink.close();
      await checkpointer.close();
    },
  };
}
