import { CordonError } from '../core/errors.ts';
import { createTokenBucket, type TokenBucket } from '../core/token-bucket.ts';

export interface AgentCallRateLimits {
  /** Calls (invocations and sandbox creations) one agent may start per second, sustained. */
  readonly perSecondPerAgent: number;
  /** Calls one agent may start at once above that rate. */
  readonly burstPerAgent: number;
}

export interface AgentCallRate {
  /** Takes one call from the agent's share, or refuses with RATE_LIMITED (quota `agent_call_rate`). */
  admit(agent: string): void;
}

/** Past this many buckets, full ones (agents at rest, nothing to remember) are dropped. */
const MAX_BUCKETS = 100_000;

/**
 * Every call, allowed or denied, costs a decision and an audit record. Slots and the queue bound
 * the calls that run; this bounds the ones that do not, so one agent cannot flood the audit log
 * (or the policy engine) with calls it knows will be denied.
 */
export function createAgentCallRate(limits: AgentCallRateLimits, now: () => number = Date.now): AgentCallRate {
  const buckets = new Map<string, TokenBucket>();
  const bucketOf = (agent: string): TokenBucket => {
    let b = buckets.get(agent);
    if (b === undefined) {
      // Agents come from verified tokens of registered agents, so the map is bounded by the
      // registry; dropping full buckets (agents at rest) keeps it small all the same.
      if (buckets.size >= MAX_BUCKETS) for (const [k, v] of buckets) if (v.full()) buckets.delete(k);
      b = createTokenBucket(limits.perSecondPerAgent, limits.burstPerAgent, now);
      buckets.set(agent, b);
    }
    return b;
  };
  return {
    admit(agent) {
      const b = bucketOf(agent);
      if (b.take()) return;
      throw new CordonError('RATE_LIMITED', `agent "${agent}" started more than ${limits.perSecondPerAgent} calls a second (burst ${limits.burstPerAgent}; calls.perSecondPerAgent); slow down and retry`, {
        details: { quota: 'agent_call_rate', limit: limits.perSecondPerAgent, retryAfterSec: Math.max(1, Math.ceil(b.retryAfterMs() / 1000)) },
      });
    },
  };
}
