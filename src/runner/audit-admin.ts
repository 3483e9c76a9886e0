import { join } from 'node:path';
import type { CordonConfig } from '../config/config-schema.ts';
import { verifyAuditLog, type AuditVerifyReport } from '../audit/verify-audit-log.ts';
import { CordonError } from '../core/errors.ts';

export type { AuditVerifyReport };

/** Where a runner writes its audit log. */
export function auditLogPath(config: CordonConfig): string {
  return join(config.dataDir, 'audit', 'audit.jsonl');
}

/** `cordon audit verify`: the chain of a log, record by record, across its rotated files. */
export async function verifyAudit(path: string): Promise<AuditVerifyReport> {
  try {
    return await verifyAuditLog(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CordonError('NOT_FOUND', `no audit log at ${path}; a runner writes one under its data directory (dataDir/audit/audit.jsonl)`, { details: { path } });
    throw err;
  }
}
