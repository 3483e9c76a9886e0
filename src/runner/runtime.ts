import type { AuditSink } from '../audit/audit-sink.ts';
import { createRepeatAggregator } from '../audit/repeat-aggregator.ts';
import type { CordonConfig } from '../config/config-schema.ts';
import type { Logger } from '../core/logger.ts';
import type { Principal } from '../core/principal.ts';
import type { EgressGuard, EgressPolicy, EgressProxy, SandboxChannel } from '../egress/index.ts';
import type { AgentRegistry } from '../identity/agent-registry.ts';
import type { TokenService } from '../identity/token-service.ts';
import type { UserDirectory } from '../identity/user-directory.ts';
import type { PolicyEngine } from '../policy/index.ts';
import type { ContainerBackend, IsolateBackend, SandboxIdentity, SandboxManager } from '../sandbox/index.ts';
import { BUILTIN_TOOLS } from '../tools/builtin-tools.ts';
import { createToolRegistry } from '../tools/tool-registry.ts';
import { redactingAuditSink, type Redactor } from './redaction.ts';
import { createRunner, type Runner } from './runner.ts';
import { recordingTokenService } from './token-audit.ts';
import { appendRecord } from './stages/record.ts';
import { createAgentCallRate } from './agent-call-rate.ts';
import { createSessionStore, type Session, type SessionStore } from './session-store.ts';
import { createReceiptReader, type ReceiptReader } from './receipts.ts';
import { wireAudit } from './wiring/audit.ts';
import type { ApprovalService } from '../approvals/approval-types.ts';
import type { Approvers } from '../approvals/approvers.ts';
import type { ApprovalFlow } from './approval-flow.ts';
import { wireApprovals } from './wiring/approvals.ts';
import { wireBrowser } from './wiring/browser.ts';
import { wireEgress, type EgressOptions } from './wiring/egress.ts';
import { wireIdentity } from './wiring/identity.ts';
import { wirePolicy } from './wiring/policy.ts';
import { wireSandboxes } from './wiring/sandboxes.ts';
import { createCordonMetrics, type CordonMetrics } from './cordon-metrics.ts';
import { metricsAuditSink, timedAuthorizer } from './metrics-taps.ts';
import { createInvocationObserver } from './invocation-observer.ts';
import type { ReloadResult } from './reload/index.ts';
import { wireLiveSet } from './wiring/live-set.ts';

export interface Runtime {
  readonly config: CordonConfig;
  readonly agents: AgentRegistry;
  readonly users: UserDirectory;
  readonly runner: Runner;
  readonly tokens: TokenService;
  readonly policy: PolicyEngine;
  /** Removes every known secret value; apply it to anything leaving the process. */
  readonly redactor: Redactor;
  readonly egress: {
    readonly guard: EgressGuard;
    /** The egress policies as loaded now (a reload replaces them). */
    policies(): ReadonlyMap<string, EgressPolicy>;
    /** The per-sandbox proxy (unix-socket and loopback channels); started by startEgressProxy(). */
    readonly proxy: EgressProxy;
    /** A proxy channel for a sandbox, with the hooks its fetch gets (policy engine, session facts). */
    openChannel(principal: Principal, session: Session, identity: SandboxIdentity): Promise<SandboxChannel> | null;
  };
  readonly sandboxes: { readonly manager: SandboxManager; readonly isolate: IsolateBackend; readonly container: ContainerBackend | null };
  /**
   * What a serving runner does before it answers: removes containers that runners gone
   * since (a crash, a kill -9) left behind, then warms the container pools. No engine is
   * logged, not thrown: container profiles answer SANDBOX_UNAVAILABLE until one runs.
   */
  startSandboxes(): Promise<void>;
  readonly sessions: SessionStore;
  /** Calls held for a human: what the operator channels list, show and decide. */
  readonly approvals: ApprovalService & Pick<ApprovalFlow, 'expireDue'>;
  /** Who may decide: names, Ed25519 keys, rights, and the scrypt password of the web login (null: none). */
  readonly approvers: Approvers;
  startEgressProxy(): Promise<void>;
  /** The longest wall-clock limit any profile allows a call. */
  readonly maxCallMs: number;
  /** Accept assertions addressed to this token-endpoint URL too (the server calls it once it listens). */
  addTokenEndpoint(url: string): void;
  /** A sandbox's own short-lived credential (audience cordon-egress), for channels that need one. */
  sandboxToken(identity: SandboxIdentity): Promise<string>;
  readonly auditPath: string;
  /** Receipts of invocations: their audit record, a signed checkpoint and an inclusion proof. */
  readonly receipts: ReceiptReader;
  /** Prometheus series (GET /metrics when metrics.enabled); docs/metrics.md. */
  readonly metrics: CordonMetrics;
  /**
   * Re-reads agents, users, Cedar and egress policies (reload/reloader.ts): all checked first,
   * then swapped in at once, or nothing changes and the result says why. `agents`, `users` and
   * `policy` above are views of the current set. Sessions, sandboxes, approvals, audit and the
   * replay cache are untouched; other config is read at start-up only (the result lists it).
   */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Replaces the JSONL audit log under the data directory (tests). */
  audit?: AuditSink;
  /** The process environment, for secrets read from variables (only config/ and cli/ read it). */
  env?: Readonly<Record<string, string | undefined>>;
  /** How egress resolves and dials; tests pass a static resolver and a loopback-only dialer. */
  egress?: EgressOptions;
  /** `cordon run --workspace DIR`: every isolate sandbox of this runtime works in DIR (kept). */
  workspaceRoot?: string;
  /** Called when an isolate host exits (tests, logs). */
  onHostExit?: (pid: number, owner: string, death: unknown) => void;
  /** How reload() reads the config again (serve: the same file, environment and flags); default: config.configFile with `env`. */
  readConfig?: () => CordonConfig;
}

/** Builds everything one Cordon process needs from a validated config: a table of contents of wiring/. */
export function createRuntime(config: CordonConfig, options: RuntimeOptions): Runtime {
  const live = wireLiveSet(config, options.logger);
  const identity = wireIdentity(config, live);
  const { policy, authorizer } = wirePolicy(live.policy, identity);
  // Label values come only from what is registered or loaded; gauges are read on scrape. The
  // catalog and sources name parts built below: they are read when a call ends or a scrape comes.
  const metrics = createCordonMetrics({ isTool: (name) => tools.get(name) !== undefined, isEgressPolicy: (name) => egress.policies().has(name) }, { sandboxes: () => sandboxes.manager.live(), approvalsPending: () => approvals.pending });
  const auditLog = wireAudit(config, { logger: options.logger, ...(options.audit === undefined ? {} : { override: options.audit }) });
  // Known secrets and anything shaped like a credential never reach a record (the redactor comes with egress, below).
  let redactor: Redactor | null = null;
  const audit = metricsAuditSink(redactingAuditSink({ append: (r) => auditLog.sink.append(r), close: () => auditLog.close() }, () => redactor), metrics);
  // Another runner may hold the data directory's log: then this one writes its own chain.
  const auditPath = auditLog.path;
  const tools = createToolRegistry(BUILTIN_TOOLS);
  const offlineTools = new Set(tools.list().filter((t) => t.definition.offline === true).map((t) => t.definition.name));
  const egress = wireEgress(config, { live: live.egress, audit, authorizer, logger: options.logger, env: options.env ?? {}, options: options.egress ?? {}, offlineTools });
  redactor = egress.redactor;
  const sandboxes = wireSandboxes(config, {
    tools,
    egressPolicies: new Set(egress.policies().keys()),
    logger: options.logger,
    ...(options.onHostExit === undefined ? {} : { onHostExit: options.onHostExit }),
    ...(options.workspaceRoot === undefined ? {} : { workspaceRoot: options.workspaceRoot }),
  });
  const repeats = createRepeatAggregator({ write: (r) => appendRecord(audit, options.logger, r), windowMs: config.audit.repeatWindowMs, maxKeys: config.audit.repeatMaxKeys });
  // One start of the proxy's loopback listener, whoever asks first: the server, or the first page.
  let proxyStarted: Promise<void> | null = null;
  const startEgressProxy = () => (proxyStarted ??= egress.proxy.start());
  const browser = wireBrowser({ startProxy: startEgressProxy, logger: options.logger });
  const sessions = createSessionStore({ maxSessions: config.sessions.maxOpen, maxSessionsPerAgent: config.sessions.maxOpenPerAgent, idleTtlMs: config.sessions.idleTtlMs });
  // The approved run goes through the runner made just below; it is only called on a decision.
  const { flow: approvals, approvers } = wireApprovals(config, {
    agents: identity.agents,
    users: identity.users,
    audit,
    repeats,
    redactor: egress.redactor,
    logger: options.logger,
    run: async (approval) => {
      const r = await runner.runApproved(approval);
      return { id: r.id, tool: r.tool, status: r.status, output: r.output, durationMs: r.durationMs };
    },
  });
  const runner = createRunner({
    verifier: identity.verifier,
    tools,
    authorizer: timedAuthorizer(authorizer, metrics),
    manager: sandboxes.manager,
    audit,
    repeats,
    callRate: createAgentCallRate(config.calls),
    sessions,
    sandboxes: { defaultProfile: config.sandbox.defaultProfile, egressPolicyFor: egress.policyFor, egressTrusted: (name) => (name === null ? false : egress.policies().get(name)?.trusted === true) },
    egressFor: egress.opener,
    stats: () => ({ ...sandboxes.isolate.stats(), ...sandboxes.container?.stats(), ...browser.stats(), approvalWaiters: approvals.waiting }),
    redactor: egress.redactor,
    recordInput: config.audit.recordInput,
    browser,
    approvals,
    policyVersion: () => policy.version,
    logger: options.logger,
    observer: createInvocationObserver({ metrics, logger: options.logger, redactor: egress.redactor, logInvocations: config.log.invocations }),
  });
  const reloader = live.reloader({ manager: sandboxes.manager, audit, env: options.env ?? {}, ...(options.readConfig === undefined ? {} : { readConfig: options.readConfig }) });
  let closed: Promise<void> | null = null;
  return {
    config,
    agents: identity.agents,
    users: identity.users,
    runner,
    tokens: recordingTokenService(identity.tokens, { audit, repeats, logger: options.logger }),
    policy,
    redactor: egress.redactor,
    egress: { guard: egress.guard, policies: egress.policies, proxy: egress.proxy, openChannel: egress.openChannel },
    sandboxes: { manager: sandboxes.manager, isolate: sandboxes.isolate, container: sandboxes.container },
    startSandboxes: async () => {
      const swept = await sandboxes.sweepWorkspaces();
      if (swept > 0) options.logger.info({ runners: swept }, 'removed host workspaces of runners that are gone');
      await sandboxes.container?.start();
    },
    sessions,
    approvals,
    approvers,
    maxCallMs: sandboxes.maxCallMs,
    startEgressProxy,
    addTokenEndpoint: identity.addTokenEndpoint,
    sandboxToken: identity.sandboxToken,
    auditPath,
    receipts: createReceiptReader(auditLog.receipts),
    metrics,
    reload: () => reloader.reload(),
    close() {
      closed ??= (async () => {
        // Approved calls still running finish in their sandboxes first; then no decision is taken.
        await approvals.close();
        // Pages first: their contexts' requests ride the egress proxy closed below.
        await browser.close();
        await sandboxes.close();
        await egress.close();
        policy.close();
        // Counted refusals still open reach the log before it closes.
        repeats.close();
        await audit.close();
      })();
      return closed;
    },
  };
}
