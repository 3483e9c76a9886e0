import type { AuditSink } from '../../audit/audit-sink.ts';
import type { CordonConfig } from '../../config/config-schema.ts';
import { loadConfig } from '../../config/load-config.ts';
import type { Logger } from '../../core/logger.ts';
import type { AgentRegistry } from '../../identity/agent-registry.ts';
import type { UserDirectory } from '../../identity/user-directory.ts';
import { createDecisionCache, type PolicyEngine } from '../../policy/index.ts';
import type { SandboxManager } from '../../sandbox/index.ts';
import { createLiveHolder, createReloader, liveAgents, livePolicyEngine, liveUsers, readLiveSet, type Reloader } from '../reload/index.ts';
import type { LiveEgress } from './egress.ts';

export interface LiveSetWiring {
  /** Views of the current set: what identity, policy and egress wiring are built on. */
  readonly agents: AgentRegistry;
  readonly users: UserDirectory;
  readonly policy: PolicyEngine;
  readonly egress: LiveEgress;
  /** The reloader, once the sandbox profiles it checks against are loaded. */
  reloader(deps: { manager: SandboxManager; audit: AuditSink; readConfig?: () => CordonConfig; env: Readonly<Record<string, string | undefined>> }): Reloader;
}

/**
 * What a reload can replace — agents, users, Cedar and egress policies — read and checked
 * together (a bad file stops start-up with its file, line and reason) and held as one value
 * the rest of the runtime reads through views (src/runner/reload/, docs/operations.md).
 */
export function wireLiveSet(config: CordonConfig, logger: Logger): LiveSetWiring {
  // One cache for every engine of this process: its keys carry the policy-set version.
  const cache = createDecisionCache({ maxEntries: 10_000 });
  const initial = readLiveSet(config, { createMissingKeys: true, cache });
  if (!initial.ok) throw initial.errors[0];
  for (const w of initial.warnings) logger.warn({ file: w.file, line: w.line }, w.reason);
  const live = createLiveHolder(initial.set);
  return {
    agents: liveAgents(live),
    users: liveUsers(live),
    policy: livePolicyEngine(live),
    egress: { policies: () => live.current().egressPolicies, agentPolicy: (agent) => live.current().agentConfig.find((a) => a.id === agent)?.egressPolicy },
    reloader: (deps) =>
      createReloader({
        holder: live,
        started: config,
        // Without a reader from the caller: the same file again, with the environment the runtime got.
        readConfig: deps.readConfig ?? (() => (config.configFile === null ? config : loadConfig({ flags: { configPath: config.configFile }, env: deps.env }))),
        profiles: deps.manager.profiles().map((p) => ({ name: p.name, file: p.file, egressPolicy: p.egressPolicy })),
        cache,
        audit: deps.audit,
        logger,
      }),
  };
}
