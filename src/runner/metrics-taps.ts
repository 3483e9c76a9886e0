import type { AuditSink } from '../audit/audit-sink.ts';
import type { Authorizer } from '../core/authorization.ts';
import type { CordonMetrics } from './cordon-metrics.ts';

/**
 * Where metrics are read off what already happens, without the producers knowing: the audit sink
 * every record goes through (records by kind, failures, and egress requests and bytes, which
 * the egress layer reports as audit records), and the authorizer the pipeline asks.
 */

/** Counts each append once it settles; the caller gets the same promise (its failure is still theirs). */
export function metricsAuditSink(inner: AuditSink, metrics: Pick<CordonMetrics, 'auditAppended'>): AuditSink {
  return {
    append(record) {
      const appended = inner.append(record);
      // Counting never fails the append, nor becomes an unhandled rejection (that would end the process).
      const count = (ok: boolean) => {
        try {
          metrics.auditAppended(record, ok);
        } catch {
          // A metric lost, nothing else: the record's own fate is the caller's.
        }
      };
      appended.then(() => count(true), () => count(false));
      return appended;
    },
    close: () => inner.close(),
  };
}

/** Times each decision. A throw is not timed: the pipeline turns it into a deny (fail closed) and the call's outcome counts it. */
export function timedAuthorizer(inner: Authorizer, metrics: Pick<CordonMetrics, 'decision'>): Authorizer {
  return {
    async authorize(request) {
      const started = performance.now();
      const decision = await inner.authorize(request);
      metrics.decision(decision.result, (performance.now() - started) / 1000);
      return decision;
    },
    // Not a decision, not timed; forwarded so what a caller is shown (MCP tools/list) stays filtered.
    mayEverAllow: (principal, actions) => inner.mayEverAllow(principal, actions),
  };
}
