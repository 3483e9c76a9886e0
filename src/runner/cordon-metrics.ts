import type { AuditRecord } from '../audit/audit-sink.ts';
import { ERROR_CODES } from '../core/errors.ts';
import { createMetricsRegistry, label, type MetricsRegistry } from '../core/metrics-registry.ts';
import { EGRESS_REASONS } from '../egress/index.ts';
import type { TokenFault } from '../identity/token-fault.ts';

/**
 * Cordon's Prometheus series (docs/metrics.md). Security rule: no label takes a value an agent
 * chooses. Tools are registered tools (else `unknown`), outcomes are tool statuses and error
 * codes, policies are the loaded egress policies; agents, users, hosts, paths and sandbox ids are
 * never labels (per-agent data is in the audit log). The registry enforces it: a value outside a
 * label's set is counted under `unknown`/`other`, so the series count is bounded whatever is sent.
 */

/** What the runtime knows once loaded: which names are real (asked once per new value). */
export interface MetricsCatalog {
  isTool(name: string): boolean;
  isEgressPolicy(name: string): boolean;
}

/** Read on each scrape, not maintained. */
export interface MetricsSources {
  /** Live sandboxes per backend kind. */
  sandboxes(): Readonly<Record<string, { readonly session: number; readonly call: number }>>;
  approvalsPending(): number;
}

export interface CordonMetrics {
  /** A tool call ended: ran (its status), was refused (the error code) or held (`pending_approval`). */
  invocation(tool: string | null, outcome: string, durationMs: number, ran: boolean): void;
  /** One authorizer call of the pipeline and how long it took. */
  decision(result: string, seconds: number): void;
  /** A refused authentication: the error code and its `details.reason`. */
  authRefused(code: string, reason: string): void;
  /** An audit append settled; egress records also count their request, bytes and policy. */
  auditAppended(record: AuditRecord, ok: boolean): void;
  /** The exposition, gauges read now. */
  render(): string;
  /** Series held now (tests check the bound). */
  readonly seriesCount: number;
}

/** The statuses a tool reports when it ran, and what the runner adds. */
const OUTCOMES = ['ok', 'error', 'timeout', 'oom', 'pending_approval', 'cancelled', ...Object.keys(ERROR_CODES)];
/** Every `details.reason` authentication can give (a Record, so a new TokenFault fails to compile until listed). */
const AUTH_REASONS: Record<TokenFault | 'missing', true> = {
  missing: true, malformed: true, algorithm_not_allowed: true, unknown_agent: true, unknown_issuer: true, bad_signature: true, wrong_audience: true,
  expired: true, not_yet_valid: true, lifetime_too_long: true, missing_claim: true, issuer_mismatch: true, replayed: true, wrong_type: true,
};
const AUDIT_KINDS: Record<AuditRecord['kind'], true> = { invocation: true, auth: true, egress: true, sandbox: true, token: true, approval: true, config: true };
const BACKENDS = ['isolate', 'container', 'browser'];

/** From sub-millisecond (an isolate call) to the longest tool timeouts. */
const CALL_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** A cached Cedar decision is microseconds; a cold one a few milliseconds. */
const DECISION_BUCKETS_S = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

export function createCordonMetrics(catalog: MetricsCatalog, sources: MetricsSources, registry: MetricsRegistry = createMetricsRegistry()): CordonMetrics {
  const tool = label('tool', (v) => catalog.isTool(v), 'unknown');
  // `none`: a sandbox without an egress policy (its requests are all denied, no_egress_policy).
  const policy = label('policy', (v) => v === 'none' || catalog.isEgressPolicy(v), 'unknown');
  const invocations = registry.counter({
    name: 'cordon_invocations_total',
    help: 'Tool calls that ended, by tool and outcome: a tool status (ok, error, timeout, oom), pending_approval, cancelled, or the error code of a refusal.',
    labels: [tool, label('outcome', OUTCOMES)],
  });
  const durations = registry.histogram({
    name: 'cordon_invocation_duration_seconds',
    help: 'Time from a call entering the pipeline to its answer, for calls whose code ran (refusals and held calls are not in it).',
    labels: [tool],
    buckets: CALL_BUCKETS_S,
  });
  const decisions = registry.histogram({
    name: 'cordon_policy_decision_seconds',
    help: 'Time the policy engine took to decide one action of a call, by result.',
    labels: [label('result', ['allow', 'deny', 'require_approval'])],
    buckets: DECISION_BUCKETS_S,
  });
  const authRefusals = registry.counter({
    name: 'cordon_auth_refusals_total',
    help: 'Requests refused at authentication, by error code and reason (missing, expired, bad_signature, ...).',
    labels: [label('code', ['AUTH_MISSING_TOKEN', 'AUTH_INVALID_TOKEN', 'UNAVAILABLE', 'AUDIT_UNAVAILABLE']), label('reason', Object.keys(AUTH_REASONS))],
  });
  const kind = label('kind', Object.keys(AUDIT_KINDS));
  const auditRecords = registry.counter({ name: 'cordon_audit_records_total', help: 'Audit records written, by kind.', labels: [kind] });
  const auditFailures = registry.counter({ name: 'cordon_audit_append_failures_total', help: 'Audit records that could not be written, by kind (the calls they stand for are refused with AUDIT_UNAVAILABLE).', labels: [kind] });
  const egressRequests = registry.counter({
    name: 'cordon_egress_requests_total',
    help: 'Sandbox egress requests and CONNECT tunnels decided, by egress policy, result (allow, deny) and reason code.',
    labels: [policy, label('result', ['allow', 'deny']), label('reason', Object.keys(EGRESS_REASONS))],
  });
  const egressBytes = registry.counter({
    name: 'cordon_egress_bytes_total',
    help: 'Bytes sandboxes sent to upstreams (to_upstream) and received from them (from_upstream) through egress, by egress policy.',
    labels: [policy, label('direction', ['to_upstream', 'from_upstream'])],
  });
  registry.gauge({
    name: 'cordon_sandboxes',
    help: 'Sandboxes alive now, by backend and kind (session: made by POST /v1/sandboxes; call: made for one call).',
    labels: [label('backend', BACKENDS), label('kind', ['session', 'call'])],
    collect: (g) => {
      for (const [backend, live] of Object.entries(sources.sandboxes())) {
        g.labels(backend, 'session').set(live.session);
        g.labels(backend, 'call').set(live.call);
      }
    },
  });
  registry.gauge({ name: 'cordon_approvals_pending', help: 'Calls held for a human decision now (pending approvals not past their time).', collect: (g) => g.labels().set(sources.approvalsPending()) });

  const policyName = (name: unknown) => (typeof name === 'string' ? name : 'none');
  return {
    invocation(name, outcome, durationMs, ran) {
      const t = name ?? 'unknown';
      invocations.labels(t, outcome).inc();
      if (ran) durations.labels(t).observe(durationMs / 1000);
    },
    decision: (result, seconds) => decisions.labels(result).observe(seconds),
    authRefused: (code, reason) => authRefusals.labels(code, reason).inc(),
    auditAppended(record, ok) {
      (ok ? auditRecords : auditFailures).labels(record.kind).inc();
      const e = record.egress;
      if (record.kind !== 'egress' || e === undefined) return;
      const p = policyName(e.policy);
      egressRequests.labels(p, String(e.result), String(e.code)).inc();
      egressBytes.labels(p, 'to_upstream').inc(Number(e.bytesToUpstream));
      egressBytes.labels(p, 'from_upstream').inc(Number(e.bytesFromUpstream));
    },
    render: () => registry.render(),
    get seriesCount() {
      return registry.seriesCount;
    },
  };
}
