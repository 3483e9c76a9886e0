import type { AgentConfig } from '../../config/config-schema.ts';
import type { EgressPolicy } from '../../egress/index.ts';
import type { AgentRegistry } from '../../identity/agent-registry.ts';
import type { UserDirectory } from '../../identity/user-directory.ts';
import type { PolicyEngine } from '../../policy/index.ts';

/**
 * What a reload replaces, as one value: who may call (agents, users), what they may do (the
 * Cedar engine) and where their sandboxes may reach (egress policies by name). Swapped whole,
 * so no call ever sees agents of one generation with policies of another.
 */
export interface LiveSet {
  /** The config's agent entries (their egressPolicy overrides are read per sandbox). */
  readonly agentConfig: readonly AgentConfig[];
  readonly agents: AgentRegistry;
  readonly users: UserDirectory;
  readonly policy: PolicyEngine;
  readonly egressPolicies: ReadonlyMap<string, EgressPolicy>;
}

/** One swappable value: readers call current() each time and never keep what it returned. */
export interface LiveHolder<T> {
  current(): T;
  /** Puts `next` in place; returns what it replaced. */
  swap(next: T): T;
}

export function createLiveHolder<T>(initial: T): LiveHolder<T> {
  let value = initial;
  return {
    current: () => value,
    swap(next) {
      const old = value;
      value = next;
      return old;
    },
  };
}

/** The registry the verifier, the authorizer and approvals read: always the current generation's. */
export function liveAgents(holder: LiveHolder<LiveSet>): AgentRegistry {
  return { get: (id) => holder.current().agents.get(id), list: () => holder.current().agents.list() };
}

export function liveUsers(holder: LiveHolder<LiveSet>): UserDirectory {
  return { get: (user) => holder.current().users.get(user), list: () => holder.current().users.list() };
}

/**
 * The engine every decision goes through. A decision is taken synchronously on one engine, so a
 * call past authorization keeps what it was decided with; the next decision sees the new set.
 */
export function livePolicyEngine(holder: LiveHolder<LiveSet>): PolicyEngine {
  return {
    get version() {
      return holder.current().policy.version;
    },
    get policySet() {
      return holder.current().policy.policySet;
    },
    decide: (req) => holder.current().policy.decide(req),
    explain: (req) => holder.current().policy.explain(req),
    close: () => holder.current().policy.close(),
  };
}
