import { basename } from 'node:path';
import type { AuditSink } from '../../audit/audit-sink.ts';
import type { ChainedRecord } from '../../audit/hash-chain.ts';
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
  // Each durable batch goes to the receipt index and the checkpointer, in chain order, before
  // the appends that made it resolve: a call's answer never precedes what covers its record.
  let observe: (records: readonly ChainedRecord[]) => void = () => undefined;
  const log = createJsonlAuditLog(wanted, {
    durability: config.audit.durability,
    rotateBytes: config.audit.rotateBytes,
    onRepair: warn,
    onCommit: (records) => observe(records),
    // Once, when the log fails: from then on every call is refused with AUDIT_UNAVAILABLE.
    onFailure: (err) => options.logger.fatal({ err: err.cause, audit: wanted }, 'the audit log cannot be written; refusing every call until the runner is restarted'),
  });
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
  observe = (records) => {
    receipts.observe(records);
    checkpointer.observe(records);
  };
  const sink: AuditSink = log;
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
