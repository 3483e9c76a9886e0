import { writeFileSync } from 'node:fs';
import { CordonError } from '../core/errors.ts';
import { AGENT_ID_PATTERN, invalidGroup, type CordonConfig } from '../config/config-schema.ts';
import { agentKeyPaths, generateAgentKeyPair, readAgentPrivateKey } from '../identity/agent-keys.ts';
import { loadAgentRegistry } from '../identity/agent-registry.ts';
import { signAgentToken } from '../identity/agent-token.ts';

/** What `cordon agents list` shows; never a private key. */
export interface AgentSummary {
  readonly id: string;
  readonly source: 'config' | 'data-dir';
  readonly key: string | null;
  readonly groups: readonly string[];
  readonly description: string;
}

export interface AddedAgent {
  readonly id: string;
  readonly publicKeyPath: string;
  readonly privateKeyPath: string;
  readonly fingerprint: string;
  readonly registered: boolean;
  readonly groups: readonly string[];
}

function registry(config: CordonConfig, createMissingKeys: boolean) {
  return loadAgentRegistry({ agents: config.agents, dataDir: config.dataDir, createMissingKeys, requireKeys: false });
}

export function listAgents(config: CordonConfig): AgentSummary[] {
  return registry(config, false).list().map((a) => ({ id: a.id, source: a.source, key: a.fingerprint, groups: a.groups, description: a.description }));
}

/**
 * Creates a key pair under the data directory and, for an agent the config
 * does not know, a registration with its groups (policies grant by group). Refuses an agent that has a key.
 */
export function addAgent(config: CordonConfig, id: string, groups: readonly string[], description = ''): AddedAgent {
  if (!AGENT_ID_PATTERN.test(id)) {
    throw new CordonError('USAGE', `agent id ${JSON.stringify(id.slice(0, 64))} is invalid: use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit (max 63)`, { details: { field: 'name' } });
  }
  const badGroup = invalidGroup(groups);
  if (badGroup !== undefined) throw new CordonError('USAGE', `group ${JSON.stringify(badGroup.slice(0, 64))} is invalid: letters, digits, ".", "_", ":", "-"`, { details: { field: 'group' } });
  const existing = registry(config, false).get(id);
  if (existing?.publicKey != null) {
    throw new CordonError('AGENT_EXISTS', `agent "${id}" already has a key (${existing.fingerprint})`, { details: { agent: id } });
  }
  const key = generateAgentKeyPair(config.dataDir, id);
  const paths = agentKeyPaths(config.dataDir, id);
  if (existing === undefined) {
    writeFileSync(paths.registration, JSON.stringify({ id, description, groups, createdAt: new Date().toISOString() }, null, 2) + '\n', { mode: 0o600 });
  }
  return { id, publicKeyPath: paths.publicKey, privateKeyPath: key.privateKeyPath, fingerprint: key.fingerprint, registered: existing === undefined, groups: existing?.groups ?? groups };
}

/** Signs a fresh token as a local agent whose private key is in the data directory. */
export async function mintLocalToken(config: CordonConfig, agentId: string, ttlSec: number): Promise<string> {
  if (registry(config, true).get(agentId) === undefined) {
    throw new CordonError('AGENT_NOT_FOUND', `no agent "${agentId}" in ${config.configFile ?? 'the embedded default config'} or ${config.dataDir}; add one with: cordon agents add ${agentId}`, { details: { agent: agentId } });
  }
  const privateKey = readAgentPrivateKey(config.dataDir, agentId);
  return signAgentToken({ agentId, privateKey, audience: config.auth.audience, ttlSec });
}
