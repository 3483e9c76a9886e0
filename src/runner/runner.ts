import type { AuditSink } from '../audit/audit-sink.ts';
import type { RepeatAggregator } from '../audit/repeat-aggregator.ts';
import type { Authorizer } from '../core/authorization.ts';
import type { Decision } from '../core/decision.ts';
import { toCordonError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import { principalUserKey, type Principal } from '../core/principal.ts';
import type { TokenVerifier } from '../identity/token-verifier.ts';
import type { BrowserHost, OpenEgress, SandboxManager, SessionSandboxInfo } from '../sandbox/index.ts';
import type { ToolAnnotations, JsonSchema } from '../tools/tool.ts';
import type { ToolRegistry } from '../tools/tool-registry.ts';
import { authenticate } from './stages/authenticate.ts';
import type { StoredApproval } from '../approvals/approval-store.ts';
import type { ApprovalFlow, InvocationState, PendingApproval } from './approval-flow.ts';
import { canonicalInvocation, checkApprovedCall, gate } from './stages/approval.ts';
import { authorize, authorizeAll, enforce, resourceOf, toolCalls } from './stages/authorize.ts';
import type { RefusalSubject } from './stages/refusal.ts';
import { execute } from './stages/execute.ts';
import { buildRecord, record, repeatKey, type InvocationFacts } from './stages/record.ts';
import { namedProfile, sandboxForCall, sandboxSessionKey, type SandboxSettings } from './stages/sandbox.ts';
import { CordonError } from '../core/errors.ts';
import type { AgentCallRate } from './agent-call-rate.ts';
import type { InvocationObserver } from './invocation-observer.ts';
import type { Redactor } from './redaction.ts';
import { validate } from './stages/validate.ts';
import type { Session, SessionFactsSnapshot, SessionStore } from './session-store.ts';
import { describeTool } from './tool-descriptors.ts';

export interface InvocationRequest {
  readonly tool: string;
  readonly input: unknown;
  /** Groups calls whose facts feed later decisions (chain rules); scoped to the principal. */
  readonly session?: string;
  /** A live session sandbox of the caller's to run in (POST /v1/sandboxes). */
  readonly sandbox?: string;
  /** The sandbox profile for a fresh sandbox; default: the configured one. */
  readonly profile?: string;
  readonly requestId?: string;
}

export interface InvocationResult {
  readonly id: string;
  readonly tool: string;
  readonly status: string;
  readonly output: unknown;
  readonly durationMs: number;
  /** The tool ran and its code failed (timeout, exception, oom): a result, not a refusal. */
  readonly failed: boolean;
  /** Set when status is `pending_approval`: policy holds the call for a human; it has not run. */
  readonly approval?: PendingApproval;
}

export interface ToolDescriptor {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonSchema;
  readonly outputSchema: JsonSchema;
  readonly annotations: ToolAnnotations;
}

export interface RunnerDeps {
  readonly verifier: TokenVerifier;
  readonly tools: ToolRegistry;
  readonly authorizer: Authorizer;
  readonly manager: SandboxManager;
  readonly audit: AuditSink;
  /** Repeated refusals (bad tokens per source, RATE_LIMITED per agent and quota), counted. */
  readonly repeats: RepeatAggregator;
  /** Each agent's share of call starts (allowed or denied): RATE_LIMITED `agent_call_rate` past it. */
  readonly callRate: AgentCallRate;
  readonly sessions: SessionStore;
  readonly sandboxes: SandboxSettings;
  /** How a sandbox's egress is opened for this principal and session (null: never any network). */
  readonly egressFor: (principal: Principal, session: Session) => OpenEgress;
  readonly stats: () => Readonly<Record<string, number>>;
  /** Known secret values never leave in a result or a record. */
  readonly redactor: Redactor;
  /** `audit.recordInput`: tool calls' raw inputs go into their records (capped, redacted). */
  readonly recordInput?: boolean;
  /** The shared browser for browse.page; null: the page tool answers SANDBOX_UNAVAILABLE. */
  readonly browser: BrowserHost | null;
  /** Where calls that need a human wait (require_approval), and how their agents read them. */
  readonly approvals: ApprovalFlow;
  /** The policy set's version, which a held call's canonical form records. */
  readonly policyVersion: () => string;
  readonly logger: Logger;
  /** Told once per ended call and per refused authentication (metrics, log.invocations). */
  readonly observer?: InvocationObserver;
}

export interface Runner {
  /**
   * Stage 1 alone, so servers can refuse unauthenticated requests before reading a body.
   * `source` is the client's address: failures are counted per source in the audit log.
   */
  authenticate(authorization: string | undefined, requestId?: string, source?: string): Promise<Principal>;
  /**
   * Stages 2–7 for an authenticated principal. An aborted `signal` (the client went away)
   * takes a waiting call out of the queue or stops a running one; its record says `cancelled`.
   */
  invoke(principal: Principal, request: InvocationRequest, options?: { readonly signal?: AbortSignal }): Promise<InvocationResult>;
  /** A held call's state (GET /v1/invocations/:id), for the principal that made it; see ApprovalFlow.read. */
  readInvocation(principal: Principal, id: string, options: { readonly waitMs: number; readonly signal?: AbortSignal }): Promise<InvocationState>;
  /**
   * The approval service's one way to run an approved call: exactly the stored call, as its
   * stored principal, through every stage again (validate, sandbox, authorize: a deny decided
   * now wins), under its original invocation id.
   */
  runApproved(approval: StoredApproval): Promise<InvocationResult>;
  listTools(): readonly ToolDescriptor[];
  /**
   * The tools this principal could ever be allowed to call (MCP tools/list): those with an
   * action its token's scope names and its policies' scopes may permit (Authorizer.mayEverAllow).
   * What is shown, not what is allowed: each call is still decided in full.
   */
  listToolsFor(principal: Principal): readonly ToolDescriptor[];
  /** A session sandbox that lives across calls: `{sandbox}` in an invocation runs in it. */
  createSandbox(principal: Principal, request: { profile?: string; requestId?: string }): Promise<SessionSandboxInfo>;
  listSandboxes(principal: Principal): SessionSandboxInfo[];
  deleteSandbox(principal: Principal, id: string, requestId?: string): Promise<void>;
  stats(): Readonly<Record<string, number>>;
  /** The policy set decisions are made with now (a hash of the schema and every policy file). */
  policyVersion(): string;
}

type SandboxFacts = Omit<InvocationFacts, 'outcome' | 'durationMs'>;

/** Times a call is decided again because its session's facts moved meanwhile, before it is refused. */
const MAX_REDECIDE = 3;

/** The invocation pipeline: authenticate → validate → sandbox → authorize → execute → audit → answer. */
export function createRunner(deps: RunnerDeps): Runner {
  const descriptors = Object.freeze(deps.tools.list().map(({ definition }) => describeTool(definition)));

  /** A refusal's record: written, or counted with its repeats (see repeatKey). Await it before answering. */
  function recordRefusal(kind: 'auth' | 'invocation' | 'sandbox', facts: InvocationFacts, e: CordonError): Promise<void> {
    const key = repeatKey(kind, facts, e);
    if (key === null) return record(deps.audit, deps.logger, kind, facts);
    return deps.repeats.append(key, buildRecord(kind, facts));
  }

  /**
   * Answers a refusal once its record is written: `e` itself, or AUDIT_UNAVAILABLE when the
   * record cannot be (audit-append.ts). A refusal because the log failed is not recorded again.
   */
  async function refuse(kind: 'auth' | 'invocation' | 'sandbox', facts: InvocationFacts, e: CordonError): Promise<never> {
    if (e.code !== 'AUDIT_UNAVAILABLE') await recordRefusal(kind, facts, e);
    throw e;
  }

  /**
   * Runs a sandbox operation and writes its one audit record, whether it succeeds or is refused;
   * answers only once that record is written. `undo` takes back what was done when it cannot be.
   */
  async function recorded<T>(facts: SandboxFacts, run: (facts: SandboxFacts) => Promise<{ value: T; outcome: string; undo?: () => void }>): Promise<T> {
    const started = performance.now();
    let done: { value: T; outcome: string; undo?: () => void };
    try {
      done = await run(facts);
    } catch (err) {
      const e = toCordonError(err);
      return refuse('sandbox', { ...facts, outcome: e.code, durationMs: performance.now() - started }, e);
    }
    try {
      await record(deps.audit, deps.logger, 'sandbox', { ...facts, outcome: done.outcome, durationMs: performance.now() - started });
    } catch (err) {
      // Unrecorded, it must not stay: a sandbox nobody was told about, and no record of it.
      try {
        done.undo?.();
      } catch (undoErr) {
        deps.logger.error({ err: undoErr }, 'could not remove a sandbox whose record failed; it ends with its TTL');
      }
      throw err;
    }
    return done.value;
  }

  /** Stages 2–7 for one call; `approved` is set for the approved run of a held call (runApproved). */
  async function pipeline(principal: Principal, request: InvocationRequest, id: string, approved: StoredApproval | null, options: { readonly signal?: AbortSignal }): Promise<InvocationResult> {
    const started = performance.now();
    const facts = {
      requestId: request.requestId ?? null, principal, tool: request.tool as string | null, action: null as string | null,
      resource: null as string | null, sandbox: null as string | null, decision: null as Decision | null, input: request.input,
      invocation: id, session: null as string | null, recordInput: deps.recordInput === true,
    };
    let finish: (() => Promise<void>) | null = null;
    // How the call ended, for the observer: set where its final record is written (or its approval stored).
    let ended: { facts: InvocationFacts; ran: boolean } | null = null;
    try {
      // An approved run was admitted when it was asked for; a full rate now must not void the approval.
      if (approved === null) deps.callRate.admit(principal.agent);
      const tool = validate(deps.tools, request.tool, request.input);
      facts.action = tool.definition.action(request.input);
      const call = sandboxForCall(deps.manager, deps.sandboxes, principal, tool, request.input, request);
      facts.sandbox = call.identity.id;
      const resourceContext = { egressTrusted: deps.sandboxes.egressTrusted(call.identity.egressPolicy) };
      const resource = tool.definition.resource(request.input, resourceContext);
      facts.resource = `${resource.type}:${resource.id}`;
      if (call.sessionKey !== null && request.session !== undefined) {
        throw new CordonError('INPUT_INVALID', 'body/session: a call in a session sandbox uses that sandbox\'s session; leave out "session"', { details: { field: '/session', reason: 'not with sandbox' } });
      }
      const sessionId = call.sessionKey ?? request.session ?? null;
      facts.session = sessionId;
      const canonical = canonicalInvocation(id, tool.definition.name, request.input, principal, { sandbox: request.sandbox ?? null, profile: call.sessionKey === null ? call.profile.name : null, session: call.sessionKey === null ? sessionId : null }, deps.policyVersion());
      if (approved !== null) checkApprovedCall(approved, canonical);
      // Held for a human: stored with everything needed to run it later; nothing else happens now.
      const hold = async (decision: Decision): Promise<InvocationResult> => {
        const approval = await deps.approvals.request(canonical, principal, decision, { ...facts, outcome: 'requested', durationMs: performance.now() - started });
        ended = { facts: { ...facts, outcome: 'pending_approval', durationMs: performance.now() - started }, ran: false };
        return { id, tool: tool.definition.name, status: 'pending_approval', output: null, durationMs: Math.round((performance.now() - started) * 1000) / 1000, failed: false, approval };
      };
      const actions = toolCalls(tool, request.input, resourceContext);
      // Decides every action; a refusal names the one refused (refusal.ts).
      const decide = async (sessionFacts: SessionFactsSnapshot): Promise<{ decision: Decision; subject: RefusalSubject }> => {
        const decided = await authorizeAll(deps.authorizer, principal, actions, call.identity, sessionFacts);
        return { decision: decided.decision, subject: { principal, tool: tool.definition.name, action: decided.call?.action ?? facts.action ?? tool.definition.name, resource: resourceOf(decided.call), input: request.input, profile: call.profile.name, defaultProfile: deps.sandboxes.defaultProfile, session: sessionFacts } };
      };
      // Decided before the session is opened: a denied call leaves nothing behind, so denied
      // calls cannot fill the session table (nor an agent's share of it).
      const seen = deps.sessions.peek(principal.agent, principalUserKey(principal), sessionId);
      let decided = await decide(seen.facts);
      facts.decision = decided.decision;
      if (gate(decided.decision, approved, decided.subject) === 'hold') return await hold(decided.decision);
      const session = deps.sessions.open(principal.agent, principalUserKey(principal), sessionId);
      // Another call of this session may have added facts while this one was decided (a
      // sensitive read, untrusted content): decide again on the facts as they are now, so a
      // chain rule is never skipped. Facts only ever grow; a session that keeps changing is refused.
      for (let seenVersion = seen.version, round = 0; session.version() !== seenVersion; round++) {
        if (round >= MAX_REDECIDE) throw new CordonError('POLICY_DENIED', 'denied: the session\'s facts kept changing while this call was decided; retry', { details: { reason: 'session facts changing' } });
        seenVersion = session.version();
        decided = await decide(session.facts());
        facts.decision = decided.decision;
        if (gate(decided.decision, approved, decided.subject) === 'hold') return await hold(decided.decision);
      }
      session.countCall();
      // On disk before anything of the call runs: a call that crashes the process (or is killed
      // with it) leaves this evidence, and a call that cannot be recorded does not run at all.
      // The sandbox is made while the record syncs (making one runs nothing of the agent's), so
      // the sync costs a call no wall-clock time of its own; execute waits for both.
      const startedRecord = record(deps.audit, deps.logger, 'invocation', { ...facts, outcome: 'started', durationMs: performance.now() - started });
      // Handled now, awaited below: a failure while the sandbox is made must not be an unhandled rejection (that ends the process).
      startedRecord.catch(() => undefined);
      let sandbox: Awaited<ReturnType<typeof call.start>>;
      try {
        sandbox = await call.start(deps.egressFor(principal, session));
      } catch (err) {
        // The refusal's record follows the started one; a failed started record is the answer instead.
        await startedRecord;
        throw err;
      }
      const made = sandbox;
      finish = () => call.finish(made);
      await startedRecord;
      const result = await execute(tool, request.input, { sandbox, profile: call.profile, session: session.sink, limits: call.limits, browser: deps.browser, ...(options.signal === undefined ? {} : { signal: options.signal }) });
      const output = deps.redactor.value(result.output);
      const durationMs = performance.now() - started;
      // Answered only once recorded: if this record cannot be written the answer is AUDIT_UNAVAILABLE, not the result.
      await record(deps.audit, deps.logger, 'invocation', { ...facts, outcome: result.status, durationMs });
      ended = { facts: { ...facts, outcome: result.status, durationMs }, ran: true };
      return { id, tool: tool.definition.name, status: result.status, output, durationMs: Math.round(durationMs * 1000) / 1000, failed: result.failed };
    } catch (err) {
      const e = toCordonError(err);
      if (e.code === 'INTERNAL') deps.logger.error({ err, requestId: request.requestId }, 'invocation failed');
      // A cancelled call is no refusal: its client went away, and the record says so.
      const outcome = e.code === 'CALL_CANCELLED' ? 'cancelled' : e.code;
      const refused = { ...facts, tool: facts.tool?.slice(0, 64) ?? null, outcome, durationMs: performance.now() - started };
      ended = { facts: refused, ran: false };
      return refuse('invocation', refused, e);
    } finally {
      if (finish !== null) void finish();
      if (ended !== null) deps.observer?.ended(ended.facts, ended.ran);
    }
  }

  return {
    async authenticate(authorization, requestId, source) {
      const started = performance.now();
      try {
        return await authenticate(deps.verifier, authorization);
      } catch (err) {
        const e = toCordonError(err);
        deps.observer?.authRefused(e);
        return refuse('auth', {
          requestId: requestId ?? null, principal: null, tool: null, action: null, resource: null, sandbox: null,
          decision: null, outcome: `${e.code}:${String(e.details.reason ?? '')}`, durationMs: performance.now() - started, input: undefined,
          ...(source === undefined ? {} : { source }),
        }, e);
      }
    },

    invoke: (principal, request, options = {}) => pipeline(principal, request, newId('inv'), null, options),

    readInvocation: (principal, id, options) => deps.approvals.read(principal, id, options),

    runApproved(approval) {
      const inv = approval.view.invocation;
      const request = { tool: inv.tool, input: inv.input, ...(inv.session === null ? {} : { session: inv.session }), ...(inv.sandbox === null ? {} : { sandbox: inv.sandbox }), ...(inv.profile === null ? {} : { profile: inv.profile }) };
      return pipeline(approval.principal, request, inv.invocation, approval, {});
    },

    createSandbox: (principal, request) =>
      recorded({ requestId: request.requestId ?? null, principal, tool: null, action: 'sandbox.create', resource: null, sandbox: null, decision: null, input: request }, async (facts) => {
        deps.callRate.admit(principal.agent);
        const profile = namedProfile(deps.manager, request.profile ?? deps.sandboxes.defaultProfile);
        facts.resource = `profile:${profile.name}`;
        // Making a sandbox holds resources for its TTL: it is an action policies must allow,
        // for the agent and the user it acts for, like any tool call.
        const call = { tool: 'sandbox', action: 'sandbox.create', resource: () => ({ type: 'profile', id: profile.name }), annotations: { readOnlyHint: false, destructiveHint: false } };
        const session = deps.sessions.peek(principal.agent, principalUserKey(principal), null).facts;
        facts.decision = await authorize(deps.authorizer, principal, call, { id: 'new', profile: profile.name }, session);
        enforce(facts.decision, { principal, tool: null, action: call.action, resource: resourceOf(call), input: request, profile: profile.name, defaultProfile: deps.sandboxes.defaultProfile, session });
        const egressPolicy = deps.sandboxes.egressPolicyFor(principal.agent, null, profile);
        const info = await deps.manager.createSession(principal, profile, egressPolicy, (identity) => {
          // The sandbox's own session: its facts (what it read, what it fetched) follow it from call to call.
          const session = deps.sessions.open(principal.agent, principalUserKey(principal), sandboxSessionKey(identity.id));
          return deps.egressFor(principal, session)(identity);
        });
        facts.sandbox = info.id;
        return { value: info, outcome: 'created', undo: () => deps.manager.deleteSession(principal, info.id) };
      }),

    listSandboxes: (principal) => deps.manager.listSessions(principal),

    deleteSandbox: (principal, id, requestId) =>
      recorded({ requestId: requestId ?? null, principal, tool: null, action: 'sandbox.delete', resource: null, sandbox: id.slice(0, 64), decision: null, input: undefined }, async () => {
        deps.manager.deleteSession(principal, id);
        return { value: undefined, outcome: 'deleted' };
      }),

    listTools: () => descriptors,
    listToolsFor(principal) {
      return deps.tools.list().flatMap(({ definition }, i) => {
        const actions = principal.scope === null ? definition.actions : definition.actions.filter((a) => principal.scope?.includes(a));
        if (actions.length === 0) return [];
        if (!deps.authorizer.mayEverAllow(principal, actions)) return [];
        const descriptor = descriptors[i];
        return descriptor === undefined ? [] : [descriptor];
      });
    },
    stats: () => ({ ...deps.stats(), ...deps.manager.stats(), callSessions: deps.sessions.size }),
    policyVersion: () => deps.policyVersion(),
  };
}
