import type { CordonConfig } from '../../config/config-schema.ts';
import type { LiveSet } from './live-set.ts';

/** What a reload changes, one line each, for the result, the audit record and the log. */
export function describeChanges(from: LiveSet, to: LiveSet): string[] {
  const out: string[] = [];
  const named = (what: string, before: Iterable<string>, after: Iterable<string>, changed: (name: string) => boolean = () => false) => {
    const a = new Set(before);
    const b = new Set(after);
    const added = [...b].filter((n) => !a.has(n)).sort();
    const removed = [...a].filter((n) => !b.has(n)).sort();
    const altered = [...b].filter((n) => a.has(n) && changed(n)).sort();
    if (added.length > 0) out.push(`${what} added: ${added.join(', ')}`);
    if (removed.length > 0) out.push(`${what} removed: ${removed.join(', ')}`);
    if (altered.length > 0) out.push(`${what} changed: ${altered.join(', ')}`);
  };
  const agentFacts = (set: LiveSet, id: string) => {
    const a = set.agents.get(id);
    return JSON.stringify([a?.fingerprint, a?.groups, a?.attributes, set.agentConfig.find((c) => c.id === id)?.egressPolicy ?? null]);
  };
  named('agents', from.agents.list().map((a) => a.id), to.agents.list().map((a) => a.id), (id) => agentFacts(from, id) !== agentFacts(to, id));
  const userFacts = (set: LiveSet, key: string) => JSON.stringify(set.users.list().find((u) => u.key === key) ?? null);
  named('users', from.users.list().map((u) => u.key), to.users.list().map((u) => u.key), (key) => userFacts(from, key) !== userFacts(to, key));
  if (from.policy.version !== to.policy.version) {
    out.push(`policy set ${from.policy.version} -> ${to.policy.version}`);
    const text = (set: LiveSet) => new Map(set.policy.policySet.policies.map((p) => [p.id, p.text]));
    const [a, b] = [text(from), text(to)];
    named('Cedar policies', a.keys(), b.keys(), (id) => a.get(id) !== b.get(id));
    if (from.policy.policySet.schema.text !== to.policy.policySet.schema.text) out.push('Cedar schema changed');
  }
  named('egress policies', from.egressPolicies.keys(), to.egressPolicies.keys());
  return out;
}

/** Parts of the config a reload takes from the file; everything else is read once, at start-up. */
const RELOADED = new Set(['agents', 'users', 'configFile']);

/**
 * Config fields that differ between what the server started with and the file now: a reload
 * does not apply them (ports, limits, folders, the data directory…), and says so.
 */
export function fieldsNeedingRestart(started: CordonConfig, now: CordonConfig): string[] {
  const out: string[] = [];
  const walk = (path: string, a: unknown, b: unknown, depth: number) => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    const objects = typeof a === 'object' && a !== null && !Array.isArray(a) && typeof b === 'object' && b !== null && !Array.isArray(b);
    if (!objects || depth >= 2) {
      out.push(`${path} changed: needs a restart`);
      return;
    }
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) walk(path === '' ? k : `${path}.${k}`, (a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], depth + 1);
  };
  for (const key of [...new Set([...Object.keys(started), ...Object.keys(now)])].sort()) {
    if (RELOADED.has(key)) continue;
    walk(key, (started as unknown as Record<string, unknown>)[key], (now as unknown as Record<string, unknown>)[key], 1);
  }
  return out;
}
