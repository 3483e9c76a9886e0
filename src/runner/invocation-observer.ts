import type { CordonError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { principalUserKey } from '../core/principal.ts';
import type { CordonMetrics } from './cordon-metrics.ts';
import type { Redactor } from './redaction.ts';
import type { InvocationFacts } from './stages/record.ts';

/**
 * What the runner tells once per tool call and per refused authentication: metrics, and the
 * optional log line. Never throws: it is told after the answer is decided, and must not change it.
 */
export interface InvocationObserver {
  /** A tool call ended: it ran (`ran`), was refused, or was held for a human. Called once per call. */
  ended(facts: InvocationFacts, ran: boolean): void;
  authRefused(error: CordonError): void;
}

export interface InvocationObserverDeps {
  readonly metrics: Pick<CordonMetrics, 'invocation' | 'authRefused'>;
  readonly logger: Logger;
  readonly redactor: Redactor;
  /** `log.invocations`: one info line per ended call. */
  readonly logInvocations: boolean;
}

/**
 * The log line, when on, names the call and how it ended — never its input or output (they may
 * hold secrets), and every value passes the redactor as audit records do. Failed authentications
 * get no line: anyone can send bad tokens, so a line each would let an anonymous client flood the
 * log; they are counted (cordon_auth_refusals_total) and written as counted audit records.
 */
export function createInvocationObserver(deps: InvocationObserverDeps): InvocationObserver {
  return {
    ended(facts, ran) {
      try {
        deps.metrics.invocation(facts.tool, facts.outcome, facts.durationMs, ran);
        if (deps.logInvocations) logLine(facts);
      } catch (err) {
        deps.logger.error({ err }, 'could not count or log an ended call');
      }
    },
    authRefused(error) {
      try {
        deps.metrics.authRefused(error.code, String(error.details.reason ?? ''));
      } catch (err) {
        deps.logger.error({ err }, 'could not count a refused authentication');
      }
    },
  };

  function logLine(facts: InvocationFacts): void {
    const d = facts.decision;
    deps.logger.info(deps.redactor.value({
      invocation: facts.invocation ?? null,
      agent: facts.principal?.agent ?? null,
      user: facts.principal === null ? null : principalUserKey(facts.principal),
      tool: facts.tool,
      action: facts.action,
      resource: facts.resource,
      sandbox: facts.sandbox,
      outcome: facts.outcome,
      decision: d === null ? null : { result: d.result, reason: d.reason, ruleId: d.ruleId },
      durationMs: Math.round(facts.durationMs * 1000) / 1000,
      requestId: facts.requestId,
    }), 'invocation');
  }
}
