import type { CordonConfig } from '../../config/config-schema.ts';
import { CordonError } from '../../core/errors.ts';
import { LOCAL_USER_ISSUER } from '../../core/principal.ts';
import { loadEgressPolicies, type EgressPolicy } from '../../egress/index.ts';
import { loadAgentRegistry, type AgentRegistry } from '../../identity/agent-registry.ts';
import { loadUserDirectory } from '../../identity/user-directory.ts';
import { createPolicyEngine, loadPolicySet, type DecisionCache } from '../../policy/index.ts';
import type { LiveSet } from './live-set.ts';

/** Why a (re)load was refused: the file and line where the loaders know them, and what to fix. */
export interface ReloadProblem {
  readonly file: string | null;
  readonly line?: number;
  readonly reason: string;
}

/** A sandbox profile as far as a reload cares: profiles are not reloaded, but must still name loaded egress policies. */
export interface ProfileEgressRef {
  readonly name: string;
  readonly file: string;
  readonly egressPolicy: string | null;
}

export interface ReadLiveSetOptions {
  /** Start-up creates key pairs for agents marked createKey; a reload writes nothing until it is applied. */
  readonly createMissingKeys: boolean;
  /** Shared by every engine: its keys carry the policy-set version. */
  readonly cache: DecisionCache;
  readonly profiles?: readonly ProfileEgressRef[];
}

export type LiveSetRead =
  | { readonly ok: true; readonly set: LiveSet; readonly warnings: readonly ReloadProblem[] }
  /** `errors` as the loaders threw them: start-up rethrows the first, unchanged. */
  | { readonly ok: false; readonly problems: readonly ReloadProblem[]; readonly errors: readonly CordonError[] };

/**
 * Reads and checks everything a reload can replace, with the loaders start-up uses, every part
 * even when an earlier one failed (so one answer lists every problem). Nothing is kept or
 * replaced here: the caller swaps the set in, or throws it away.
 */
export function readLiveSet(config: CordonConfig, options: ReadLiveSetOptions): LiveSetRead {
  const errors: CordonError[] = [];
  const problems: ReloadProblem[] = [];
  /** `file`: where a problem is when the loader's error names no file (an agent's inline key: the config). */
  const attempt = <T>(file: string | null, load: () => T): T | null => {
    try {
      return load();
    } catch (err) {
      const e = err instanceof CordonError ? err : new CordonError('CONFIG_INVALID', `cannot load: ${(err as Error).message}`, { cause: err });
      errors.push(e);
      problems.push(...problemsOf(e).map((p) => (p.file === null ? { ...p, file } : p)));
      return null;
    }
  };
  const agents = attempt(config.configFile, () => loadAgents(config, options.createMissingKeys));
  const users = attempt(config.configFile, () => loadUserDirectory(config.users, config.dataDir));
  const policySet = attempt(config.policyDir, () => loadPolicySet(config.policyDir));
  const egressPolicies = attempt(config.egress.policyDir, () => loadEgressPolicies(config.egress.policyDir));
  if (egressPolicies !== null) attempt(config.configFile, () => checkEgressReferences(config, egressPolicies, options.profiles ?? []));
  const refused = (): LiveSetRead => ({ ok: false, problems, errors });
  if (agents === null || users === null || policySet === null || egressPolicies === null || errors.length > 0) return refused();
  const policy = attempt(config.policyDir, () => createPolicyEngine(policySet, { cache: options.cache }));
  if (policy === null) return refused();
  const warnings: ReloadProblem[] = [
    ...policySet.warnings.map((w) => ({ file: w.file, ...(w.line === undefined ? {} : { line: w.line }), reason: w.reason })),
    ...[...egressPolicies.values()].flatMap((p) => p.warnings.map((w) => ({ file: w.file, line: w.line, reason: w.reason }))),
  ];
  return { ok: true, set: Object.freeze({ agentConfig: config.agents, agents, users, policy, egressPolicies }), warnings };
}

function loadAgents(config: CordonConfig, createMissingKeys: boolean): AgentRegistry {
  const agents = loadAgentRegistry({ agents: config.agents, dataDir: config.dataDir, createMissingKeys, requireKeys: true });
  for (const reserved of [config.auth.issuer, LOCAL_USER_ISSUER]) {
    // Tokens are routed by `iss`: an agent named like an issuer could never authenticate.
    if (agents.get(reserved) !== undefined) throw new CordonError('CONFIG_INVALID', `agent id "${reserved}" is reserved for Cordon's own token issuer`, { details: { field: '/agents' } });
  }
  return agents;
}

/**
 * Every egress policy the config or a sandbox profile names must exist: a typo would otherwise
 * silently mean "no egress", and a policy removed by a reload must not stay named by anything.
 */
function checkEgressReferences(config: CordonConfig, policies: ReadonlyMap<string, EgressPolicy>, profiles: readonly ProfileEgressRef[]): void {
  const named = [
    ...Object.entries(config.egress.toolPolicies).map(([tool, name]) => [`/egress/toolPolicies/${tool}`, name] as const),
    ...config.agents.flatMap((a, i) => (typeof a.egressPolicy === 'string' ? [[`/agents/${i}/egressPolicy`, a.egressPolicy] as const] : [])),
  ];
  const problems: ReloadProblem[] = [];
  for (const [field, name] of named) {
    if (!policies.has(name)) problems.push({ file: config.configFile, reason: `${field} names egress policy "${name}", which is not in ${config.egress.policyDir}` });
  }
  for (const p of profiles) {
    if (p.egressPolicy !== null && !policies.has(p.egressPolicy)) problems.push({ file: p.file, reason: `sandbox profile "${p.name}" names egress policy "${p.egressPolicy}", which is not in ${config.egress.policyDir}` });
  }
  const first = problems[0];
  if (first !== undefined) {
    throw new CordonError('CONFIG_INVALID', `${first.file ?? 'config'}: ${first.reason}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, { details: { problems } });
  }
}

/** A loader's error as problem lines: each problem it carries, else its message with the file it names. */
export function problemsOf(err: CordonError): ReloadProblem[] {
  const listed = err.details.problems;
  if (Array.isArray(listed) && listed.length > 0) {
    return (listed as { severity?: string; file?: string | null; line?: number; policyId?: string; reason?: string }[])
      .filter((p) => p.severity !== 'warning')
      .map((p) => ({
        file: p.file ?? null,
        ...(typeof p.line === 'number' && p.line > 0 ? { line: p.line } : {}),
        reason: `${p.policyId === undefined ? '' : `policy "${p.policyId}": `}${p.reason ?? err.message}`,
      }));
  }
  const source = err.details.source ?? err.details.file;
  const file = typeof source === 'string' && source.includes('/') ? source : null;
  const line = typeof err.details.line === 'number' ? err.details.line : undefined;
  // The loaders start their messages with the file (and line); the problem carries those apart.
  const reason = file !== null && err.message.startsWith(`${file}:`) ? err.message.slice(file.length + 1).replace(/^\d+:/, '').trim() : err.message;
  return [{ file, ...(line === undefined ? {} : { line }), reason }];
}

/** `file:line: reason`, the form problems are printed and logged in. */
export function formatReloadProblem(p: ReloadProblem): string {
  const where = p.file === null ? '' : `${p.file}${p.line === undefined ? '' : `:${p.line}`}: `;
  return `${where}${p.reason}`;
}

