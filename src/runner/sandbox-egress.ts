import type { AuditSink } from '../audit/audit-sink.ts';
import { newId } from '../core/ids.ts';
import type { SessionFactsSink } from '../core/session-facts.ts';
import type { EgressAuditRecord, EgressAuditSink } from '../egress/egress-audit.ts';
import type { EgressIdentity } from '../egress/egress-identity.ts';
import type { EgressPolicy } from '../egress/egress-policy.ts';
import type { GuardedFetch } from '../egress/guarded-fetch.ts';
import type { HostFetch } from '../sandbox/isolate/isolate-fetch.ts';
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

/**
 * The fetch an isolate sandbox is granted: every request goes through the guard
 * with this sandbox's identity, which is fixed here and never read from the
 * request. What the session ingests is noted as facts for later decisions.
 */
export function bindSandboxFetch(identity: EgressIdentity, guarded: GuardedFetch, policies: ReadonlyMap<string, EgressPolicy>, session: SessionFactsSink): HostFetch {
  const trusted = identity.egressPolicy !== null && policies.get(identity.egressPolicy)?.trusted === true;
  return async (request, signal) => {
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

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname;
  } catch {
    return null;
  }
}
