import { createApprovalNotifier } from '../../approvals/approval-notifier.ts';
import { openApprovalStore, type StoredApproval } from '../../approvals/approval-store.ts';
import type { CanonicalInvocation } from '../../approvals/approval-types.ts';
import { loadApprovers, type Approvers } from '../../approvals/approvers.ts';
import type { AuditSink } from '../../audit/audit-sink.ts';
import type { RepeatAggregator } from '../../audit/repeat-aggregator.ts';
import type { CordonConfig } from '../../config/config-schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { AgentRegistry } from '../../identity/agent-registry.ts';
import type { UserDirectory } from '../../identity/user-directory.ts';
import { createApprovalFlow, type ApprovalFlow, type InvocationBody } from '../approval-flow.ts';
import type { Redactor } from '../redaction.ts';

export interface ApprovalsWiringDeps {
  readonly agents: AgentRegistry;
  readonly users: UserDirectory;
  readonly audit: AuditSink;
  readonly repeats: RepeatAggregator;
  readonly redactor: Redactor;
  readonly logger: Logger;
  /** Runs an approved call through the runner (made after this wiring: called only on decide). */
  readonly run: (approval: StoredApproval) => Promise<InvocationBody>;
}

/** Expired approvals become records within this long of their expiry (a waiting agent learns at once). */
const SWEEP_INTERVAL_MS = 5_000;

/** Calls that wait for a human: approvers (keys parsed now: a bad one stops start-up), the store, the flow. */
export interface ApprovalsWiring {
  readonly flow: ApprovalFlow;
  /** The registered approvers: keys, rights, and the scrypt password the web login checks. */
  readonly approvers: Approvers;
}

export function wireApprovals(config: CordonConfig, deps: ApprovalsWiringDeps): ApprovalsWiring {
  const approvers = loadApprovers(config.approvals);
  const { ttlMs, maxPending, maxPendingPerAgent, maxWaitMs } = config.approvals;
  const store = openApprovalStore(config.dataDir, { ttlMs, maxPending, maxPendingPerAgent });
  const principalGroups = (inv: CanonicalInvocation): readonly string[] => [...(deps.agents.get(inv.agent)?.groups ?? []), ...(inv.user === null ? [] : deps.users.get(inv.user).groups)];
  const flow = createApprovalFlow({
    store,
    approvers,
    notifier: createApprovalNotifier(),
    audit: deps.audit,
    repeats: deps.repeats,
    logger: deps.logger,
    redactor: deps.redactor,
    principalGroups,
    run: deps.run,
    maxWaitMs,
    sweepIntervalMs: SWEEP_INTERVAL_MS,
  });
  return { flow, approvers };
}
