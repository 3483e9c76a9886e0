import { basename, join } from 'node:path';
import type { CordonConfig } from '../config/config-schema.ts';
import { listCheckpointFiles } from '../audit/checkpoint-file.ts';
import { createNoteSigner, formatVerifierKey, parseVerifierKey, type NoteVerifier } from '../audit/signed-note.ts';
import { loadOrCreateSigningKey, loadSigningKey } from '../identity/signing-keys.ts';
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

/**
 * `cordon audit verify`: the chain of a log, record by record and across its rotated files, against its signed checkpoints
 * (the latest beside it, any kept as evidence, and the mirror when one is configured), each
 * checked against Cordon's audit key. A side chain (`audit.<pid>.jsonl`) signs as `<origin>/<its name>`.
 */
export async function verifyAudit(config: CordonConfig, path: string, options: { from?: number; verifierKey?: string } = {}): Promise<AuditVerifyReport> {
  const { verifierKey, ...rest } = options;
  // A key given (`--key`, what `cordon audit key` printed) or the data directory's, never one made up:
  // with neither, every checkpoint is reported as not verifying.
  const key = verifierKey === undefined ? loadSigningKey(config.dataDir, 'audit')?.privateKey : undefined;
  const verifiers: NoteVerifier[] =
    verifierKey !== undefined ? [parseVerifierKey(verifierKey)] : key === undefined ? [] : [createNoteSigner(auditOrigin(config), key), createNoteSigner(`${auditOrigin(config)}/${basename(path, '.jsonl')}`, key)];
  const files = await listCheckpointFiles(path);
  const mirror = config.audit.checkpointMirror;
  // The mirror of the data directory's log only; a mirror missing while the log has a checkpoint is a problem.
  const mirrorApplies = mirror !== null && path === auditLogPath(config);
  const checkpointFiles = mirrorApplies ? [...files, mirror] : files;
  const required = mirrorApplies && files.length > 0 ? [mirror] : [];
  try {
    return await verifyAuditLog(path, { ...rest, checkpointFiles, requiredCheckpointFiles: required, verifiers });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CordonError('NOT_FOUND', `no audit log at ${path}; a runner writes one under its data directory (dataDir/audit/audit.jsonl)`, { details: { path } });
    throw err;
  }
}
