import type { AuditSink } from '../audit/audit-sink.ts';
import type { Authorizer } from '../core/authorization.ts';
import { newId } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import type { EgressAuditRecord, EgressAuditSink, EgressHooks, EgressPolicy, EgressProxy, GuardedFetch, PinnedPools, SandboxChannel } from '../egress/index.ts';
import type { HostFetch, OpenEgress, SandboxIdentity } from '../sandbox/index.ts';
import type { ActionCall } from './stages/authorize.ts';
import { authorize } from './stages/authorize.ts';
import type { Redactor } from './redaction.ts';
import type { Session } from './session-store.ts';

/** Egress records land in the one audit log, next to the invocation that caused them. */
export function createEgressAuditAdapter(audit: AuditSink, redactor: Redactor): EgressAuditSink {
  return {
    record(e: EgressAuditRecord) {
      try {
        audit.append({
          ts: e.time,
          kind: 'egress',
          id: newId('aud'),
          requestId: null,
          agent: e.agent,
          user: e.user,
          tokenId: null,
          tool: null,
          action: e.kind === 'connect' ? 'egress.connect' : 'egress.http',
          resource: e.host === null ? null : `${e.scheme ?? 'connect'}://${e.host}:${e.port ?? ''}${e.path ?? ''}`,
          sandbox: e.sandbox,
          decision: { result: e.result, reason: redactor.text(e.reason), ruleId: e.rule },
          outcome: e.result === 'allow' ? String(e.status) : e.code,
          durationMs: e.durationMs,
          inputSha256: null,
          egress: { ...e, reason: redactor.text(e.reason) },
        });
      } catch {
        // The audit sink logs its own failures; an egress record never breaks the request.
      }
    },
  };
}

/** A sandbox's request as a `net.fetch` action for the policy engine. */
export function fetchCall(url: string, method: string, trusted: boolean): ActionCall {
  return {
    tool: 'fetch',
    action: 'net.fetch',
    resource: () => ({ type: 'url', id: url, attributes: { method, trusted } }),
    annotations: { readOnlyHint: method === 'GET' || method === 'HEAD', destructiveHint: false },
  };
}

/**
 * The runner's steps around every egress request of one sandbox, on every hop
 * and every channel: the request is a `net.fetch` for the policy engine with the
 * session's facts as they are now (so chain rules hold for code that fetches),
 * and what the sandbox ingested becomes session facts for later decisions.
 */
export function sandboxEgressHooks(authorizer: Authorizer, principal: Principal, identity: SandboxIdentity, session: Session, trusted: boolean): EgressHooks {
  return {
    authorize: (request) => authorize(authorizer, principal, fetchCall(request.url, request.method, trusted), identity, session.facts()),
    observe: (response) => {
      session.sink.noteEgressHost(response.host);
      // Content from a host not marked trusted may carry instructions aimed at the agent.
      if (!trusted) session.sink.noteUntrustedContent(response.host);
    },
  };
}

export interface SandboxEgressDeps {
  readonly authorizer: Authorizer;
  readonly guarded: GuardedFetch;
  readonly pools: PinnedPools;
  readonly policies: ReadonlyMap<string, EgressPolicy>;
  /** Running for channel-based backends (containers, browsers); null when not started. */
  readonly proxy: EgressProxy | null;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * How a sandbox's egress is opened for the sandbox manager: bound to the
 * sandbox's identity (fixed here, never read from a request) and to the
 * principal and session it works for. Closing it drops the sandbox's pinned
 * connections and its proxy channel.
 */
export function egressOpener(deps: SandboxEgressDeps, principal: Principal, session: Session): OpenEgress {
  return (identity) => {
    if (identity.egressPolicy === null) return null;
    const trusted = deps.policies.get(identity.egressPolicy)?.trusted === true;
    const hooks = sandboxEgressHooks(deps.authorizer, principal, identity, session, trusted);
    const fetch: HostFetch = async (request, signal, limits) => {
      const response = await deps.guarded(identity, { url: request.url, method: request.method, headers: request.headers, body: request.body, redirect: request.redirect, signal, hooks, maxResponseBytes: limits.maxResponseBytes });
      return { status: response.status, statusText: response.statusText, headers: response.headers, body: response.body, text: decoder.decode(response.body), url: response.url, redirected: response.redirected };
    };
    return {
      fetch,
      close: () => {
        void deps.pools.closeSandbox(identity.id);
      },
    };
  };
}

/** A proxy channel for a sandbox, with the same hooks its fetch gets (containers and browsers use these). */
export function openProxyChannel(deps: SandboxEgressDeps, principal: Principal, session: Session, identity: SandboxIdentity): Promise<SandboxChannel> | null {
  if (deps.proxy === null || identity.egressPolicy === null) return null;
  const trusted = deps.policies.get(identity.egressPolicy)?.trusted === true;
  return deps.proxy.openChannel(identity, { hooks: sandboxEgressHooks(deps.authorizer, principal, identity, session, trusted) });
}
