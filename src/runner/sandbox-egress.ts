import type { AuditSink } from '../audit/audit-sink.ts';
import { newId } from '../core/ids.ts';
import type { SessionFactsSink } from '../core/session-facts.ts';
import type { EgressAuditRecord, EgressAuditSink } from '../egress/egress-audit.ts';
import type { EgressIdentity } from '../egress/egress-identity.ts';
import type { GuardedFetch } from '../egress/guarded-fetch.ts';
import type { HostFetch, HostFetchResponse } from '../sandbox/isolate/isolate-fetch.ts';
import { parseEgressTarget } from '../egress/canonical-host.ts';
import { refusedVerdict } from '../egress/egress-decider.ts';
import { auditRecord } from '../egress/proxy-response.ts';
import type { Decision } from '../core/decision.ts';
import type { ActionCall } from './stages/authorize.ts';
import type { Redactor } from './redaction.ts';

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

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A sandbox's request as a `net.fetch` action for the policy engine. */
export function fetchCall(url: string, method: string, trusted: boolean): ActionCall {
  return {
    tool: 'fetch',
    action: 'net.fetch',
    resource: () => ({ type: 'url', id: url, attributes: { method, trusted } }),
    annotations: { readOnlyHint: method === 'GET' || method === 'HEAD', destructiveHint: false },
  };
}

/** Decides one request for the policy engine (before the egress policy is even consulted). */
export type FetchGate = (url: string, method: string) => Promise<Decision>;

/**
 * The fetch an isolate sandbox is granted: every request is a `net.fetch` for
 * the policy engine and then goes through the guard with this sandbox's
 * identity, which is fixed here and never read from the request. What the
 * session ingests is noted as facts for later decisions.
 */
export function bindSandboxFetch(identity: EgressIdentity, guarded: GuardedFetch, trusted: boolean, session: SessionFactsSink, gate: FetchGate, audit: EgressAuditSink): HostFetch {
  return async (request, signal) => {
    const decision = await gate(request.url, request.method);
    if (decision.result !== 'allow') return policyRefusal(identity, request.url, request.method, decision, audit);
    const response = await guarded(identity, { url: request.url, method: request.method, headers: request.headers, body: request.body, redirect: request.redirect, signal });
    if (response.refused === null) {
      const host = hostOf(response.url);
      if (host !== null) {
        session.noteEgressHost(host);
        // Content from a host not marked trusted may carry instructions aimed at the agent.
        if (!trusted) session.noteUntrustedContent(host);
      }
    }
    return {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      body: response.body,
      text: decoder.decode(response.body),
      url: response.url,
      redirected: response.redirected,
    };
  };
}

function policyRefusal(identity: EgressIdentity, url: string, method: string, decision: Decision, audit: EgressAuditSink): HostFetchResponse {
  const code = decision.result === 'require_approval' ? 'APPROVAL_REQUIRED' : 'POLICY_DENIED';
  const parsed = parseEgressTarget({ url, method });
  const now = Date.now();
  audit.record(
    auditRecord({
      identity,
      channel: 'fetch',
      kind: 'http',
      verdict: refusedVerdict(identity.egressPolicy ?? '', parsed.ok ? parsed.target : null, 'policy_denied', decision.reason, decision.ruleId),
      status: 403,
      startedAtMs: now,
      endedAtMs: now,
      bytesToUpstream: 0,
      bytesFromUpstream: 0,
      injected: [],
    }),
  );
  const body = JSON.stringify({ error: { code, message: `denied by policy: ${decision.reason}`, details: { decision: decision.details ?? { ruleId: decision.ruleId } } } });
  const bytes = new TextEncoder().encode(body);
  return { status: 403, statusText: 'Forbidden', headers: [['content-type', 'application/json'], ['x-cordon-error', `${code.toLowerCase()}: ${decision.reason}`]], body: bytes, text: body, url, redirected: false };
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname;
  } catch {
    return null;
  }
}
