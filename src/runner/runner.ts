import type { AuditSink } from '../audit/audit-sink.ts';
import type { Authorizer } from '../core/authorization.ts';
import type { Decision } from '../core/decision.ts';
import { toCordonError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import type { Principal } from '../core/principal.ts';
import type { IsolateConfig } from '../config/config-schema.ts';
import type { TokenVerifier } from '../identity/token-verifier.ts';
import type { IsolateBackend } from '../sandbox/isolate/isolate-backend.ts';
import type { ToolAnnotations, JsonSchema } from '../tools/tool.ts';
import type { ToolRegistry } from '../tools/tool-registry.ts';
import { authenticate } from './stages/authenticate.ts';
import { authorize, enforce, toolCall } from './stages/authorize.ts';
import { execute } from './stages/execute.ts';
import { record } from './stages/record.ts';
import { createSandbox, type SandboxIdentity, type SandboxSettings } from './stages/sandbox.ts';
import type { HostFetch } from '../sandbox/isolate/isolate-fetch.ts';
import type { Redactor } from './redaction.ts';
import { validate } from './stages/validate.ts';
import type { Session, SessionStore } from './session-store.ts';
import { describeTool } from './tool-descriptors.ts';

export interface InvocationRequest {
  readonly tool: string;
  readonly input: unknown;
  /** Groups calls whose facts feed later decisions (chain rules); scoped to the principal. */
  readonly session?: string;
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
  readonly isolate: IsolateBackend;
  readonly limits: IsolateConfig;
  readonly audit: AuditSink;
  readonly sessions: SessionStore;
  readonly sandboxes: SandboxSettings;
  /** The fetch a sandbox is granted, bound to its identity; undefined when it has no egress. */
  readonly egressFor: (sandbox: SandboxIdentity, session: Session, principal: Principal) => HostFetch | undefined;
  /** Known secret values never leave in a result or a record. */
  readonly redactor: Redactor;
  readonly logger: Logger;
}

export interface Runner {
  /** Stage 1 alone, so servers can refuse unauthenticated requests before reading a body. */
  authenticate(authorization: string | undefined, requestId?: string): Promise<Principal>;
  /** Stages 2–7 for an authenticated principal. */
  invoke(principal: Principal, request: InvocationRequest): Promise<InvocationResult>;
  listTools(): readonly ToolDescriptor[];
  stats(): { active: number; queued: number };
}

/** The invocation pipeline: authenticate → validate → sandbox → authorize → execute → audit → answer. */
export function createRunner(deps: RunnerDeps): Runner {
  const descriptors = Object.freeze(deps.tools.list().map(({ definition }) => describeTool(definition)));

  return {
    async authenticate(authorization, requestId) {
      const started = performance.now();
      try {
        return await authenticate(deps.verifier, authorization);
      } catch (err) {
        const e = toCordonError(err);
        record(deps.audit, deps.logger, 'auth', {
          requestId: requestId ?? null, principal: null, tool: null, action: null, resource: null, sandbox: null,
          decision: null, outcome: `${e.code}:${String(e.details.reason ?? '')}`, durationMs: performance.now() - started, input: undefined,
        });
        throw e;
      }
    },

    async invoke(principal, request) {
      const started = performance.now();
      const id = newId('inv');
      const facts = {
        requestId: request.requestId ?? null, principal, tool: request.tool as string | null, action: null as string | null,
        resource: null as string | null, sandbox: null as string | null, decision: null as Decision | null, input: request.input,
      };
      try {
        const tool = validate(deps.tools, request.tool, request.input, deps.limits);
        facts.action = tool.definition.verb;
        const resource = tool.definition.resource(request.input);
        facts.resource = `${resource.type}:${resource.id}`;
        const timeoutMs = (request.input as { timeoutMs?: number }).timeoutMs ?? deps.limits.defaultTimeoutMs;
        const sandbox = createSandbox(principal, tool, timeoutMs, deps.sandboxes);
        facts.sandbox = sandbox.id;
        const session = deps.sessions.open(principal.agent, principal.user, request.session ?? null);
        facts.decision = await authorize(deps.authorizer, principal, toolCall(tool, request.input), sandbox, session.facts());
        enforce(facts.decision);
        session.countCall();
        const result = await execute(tool, request.input, sandbox, deps.isolate, deps.limits, session.sink, deps.egressFor(sandbox, session, principal));
        const output = deps.redactor.value(result.output);
        const durationMs = performance.now() - started;
        record(deps.audit, deps.logger, 'invocation', { ...facts, outcome: result.status, durationMs });
        return { id, tool: tool.definition.name, status: result.status, output, durationMs: Math.round(durationMs * 1000) / 1000, failed: result.failed };
      } catch (err) {
        const e = toCordonError(err);
        if (e.code === 'INTERNAL') deps.logger.error({ err, requestId: request.requestId }, 'invocation failed');
        record(deps.audit, deps.logger, 'invocation', { ...facts, tool: facts.tool?.slice(0, 64) ?? null, outcome: e.code, durationMs: performance.now() - started });
        throw e;
      }
    },

    listTools: () => descriptors,
    stats: () => deps.isolate.stats(),
  };
}
