import { CordonError, isCordonError } from '../core/errors.ts';

/**
 * The one error for "this record cannot be written": what a failed sink answers every append
 * with, and what a caller turns any append failure into. The cause stays for the runner log;
 * the client sees the errno code, not the file system's message or the log's path.
 */
export function auditUnavailable(cause: unknown): CordonError {
  if (isCordonError(cause) && cause.code === 'AUDIT_UNAVAILABLE') return cause;
  const errno = (cause as NodeJS.ErrnoException | null)?.code;
  const reason = typeof errno === 'string' ? errno : 'write failed';
  return new CordonError('AUDIT_UNAVAILABLE', `the audit log cannot be written (${reason}): Cordon refuses calls it cannot record; free the disk or fix the log's folder and restart the runner`, {
    cause,
    details: { reason },
  });
}
