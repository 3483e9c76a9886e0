import { join } from 'node:path';
import type { CordonConfig } from '../config/config-schema.ts';
import { createNoteSigner, formatVerifierKey } from '../audit/signed-note.ts';
import { loadOrCreateSigningKey } from '../identity/signing-keys.ts';
import { verifyAuditLog, type AuditVerifyReport } from '../audit/verify-audit-log.ts';
import { CordonError } from '../core/errors.ts';

export type { AuditVerifyReport };

/** Where a runner writes its audit log. */
export function auditLogPath(config: CordonConfig): string {
  return join(config.dataDir, 'audit', 'audit.jsonl');
}

/** The log's name in its checkpoints, and the name of the key that signs them. */
export function auditOrigin(config: CordonConfig): string {
  return config.audit.origin;
}

/**
 * `cordon audit key`: the C2SP verifier key of the log's checkpoints (`<origin>+<key id>+<key>`),
 * what an outside verifier pins. The key is created on first use, like Cordon's other keys.
 */
export function auditVerifierKey(config: CordonConfig): string {
  return formatVerifierKey(createNoteSigner(auditOrigin(config), loadOrCreateSigningKey(config.dataDir, 'audit').privateKey));
}

/** `cordon audit verify`: the chain of a log, record by record. */
export async function verifyAudit(path: string): Promise<AuditVerifyReport> {
  try {
    return await verifyAuditLog(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CordonError('NOT_FOUND', `no audit log at ${path}; a runner writes one under its data directory (dataDir/audit/audit.jsonl)`, { details: { path } });
    throw err;
  }
}
