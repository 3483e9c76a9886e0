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
      appended.then(() => metrics.auditAppended(record, true), () => metrics.auditAppended(record, false));
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
  };
}
