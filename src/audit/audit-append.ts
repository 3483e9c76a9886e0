import type { AuditRecord, AuditSink } from './audit-sink.ts';
import { auditUnavailable } from './audit-unavailable.ts';

/**
 * The one rule for a failed audit append, for every record Cordon writes.
 *
 * A call Cordon cannot record is refused, never run or answered unrecorded. So a record that
 * stands for a call is awaited: the `started` record before the call's sandbox runs (it does not
 * run if the record fails), and the final one — result, refusal, sandbox create/delete,
 * failed authentication — before the answer goes out (the answer is AUDIT_UNAVAILABLE instead).
 * Records written as things happen inside a call (egress requests, counted repeats) are not
 * awaited one by one: a sink whose append failed is failed for good (AuditSink), so the call
 * that caused them is refused at its final record. The sink says its failure once; nothing
 * here logs per record.
 */
export async function appendOrRefuse(sink: AuditSink, record: AuditRecord): Promise<void> {
  try {
    await sink.append(record);
  } catch (err) {
    throw auditUnavailable(err);
  }
}

/** A record written as it happens (see appendOrRefuse): its failure fails the sink, and the call's final record. */
export function appendAsItHappens(sink: AuditSink, record: AuditRecord): void {
  sink.append(record).catch(() => undefined);
}
