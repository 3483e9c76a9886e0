import type { KeyObject } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CordonError } from '../core/errors.ts';
import { readBoundedTextFile } from '../core/read-bounded-file.ts';
import { AGENT_ID_PATTERN, GROUP_PATTERN, type AgentConfig } from '../config/config-schema.ts';
import { agentKeyPaths, generateAgentKeyPair, keyFingerprint, parseEd25519PublicKey, readPublicKeyFile } from './agent-keys.ts';

export interface RegisteredAgent {
  readonly id: string;
  readonly description: string;
  readonly groups: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
  /** null when the agent has no key yet: it cannot authenticate. */
  readonly publicKey: KeyObject | null;
  readonly fingerprint: string | null;
  readonly source: 'config' | 'data-dir';
}

export interface AgentRegistry {
  get(id: string): RegisteredAgent | undefined;
  list(): readonly RegisteredAgent[];
}

export interface LoadAgentRegistryOptions {
  agents: readonly AgentConfig[];
  dataDir: string;
  /** Create key pairs for config agents marked `createKey` that have none yet. */
  createMissingKeys: boolean;
  /** Refuse to load when a config agent has no key and may not create one. */
  requireKeys: boolean;
}

/** A registration (`cordon agents add`, `cordon users add`) is a few lines of JSON. */
export const MAX_REGISTRATION_FILE_BYTES = 64 * 1024;

interface Registration {
  id: string;
  description?: string;
  groups: string[];
}

/**
 * Agents come from the config file and from registrations under the data
 * directory (written by `cordon agents add`). A config entry wins over a
 * registration with the same id.
 */
export function loadAgentRegistry(options: LoadAgentRegistryOptions): AgentRegistry {
  const byId = new Map<string, RegisteredAgent>();
  // Every bad agent is named, not just the first: a reload answers with all of them at once.
  const bad: CordonError[] = [];
  for (const agent of options.agents) {
    try {
      byId.set(agent.id, fromConfig(agent, options));
    } catch (err) {
      if (!(err instanceof CordonError)) throw err;
      bad.push(err);
    }
  }
  const [first, ...more] = bad;
  if (first !== undefined && more.length === 0) throw first;
  if (first !== undefined) {
    throw new CordonError(first.code, `${first.message} (and ${more.length} more)`, { details: { field: '/agents', problems: bad.map((e) => ({ file: null, reason: e.message })) } });
  }
  for (const reg of readRegistrations(options.dataDir)) {
    if (byId.has(reg.id)) continue;
    const pub = agentKeyPaths(options.dataDir, reg.id).publicKey;
    const key = existsSync(pub) ? readPublicKeyFile(pub) : null;
    byId.set(reg.id, Object.freeze({ id: reg.id, description: reg.description ?? '', groups: Object.freeze([...reg.groups]), attributes: {}, publicKey: key, fingerprint: key && keyFingerprint(key), source: 'data-dir' as const }));
  }
  const all = Object.freeze([...byId.values()]);
  return {
    get: (id) => byId.get(id),
    list: () => all,
  };
}

function fromConfig(agent: AgentConfig, options: LoadAgentRegistryOptions): RegisteredAgent {
  let key: KeyObject | null = null;
  if (agent.publicKey !== undefined) {
    key = parseEd25519PublicKey(agent.publicKey, `agent "${agent.id}" publicKey`);
  } else if (agent.publicKeyFile !== undefined) {
    key = readPublicKeyFile(agent.publicKeyFile);
  } else {
    const pub = agentKeyPaths(options.dataDir, agent.id).publicKey;
    if (existsSync(pub)) {
      key = readPublicKeyFile(pub);
    } else if (agent.createKey === true && options.createMissingKeys) {
      key = parseEd25519PublicKey(generateAgentKeyPair(options.dataDir, agent.id).publicKeyPem, pub);
    } else if (options.requireKeys && agent.createKey !== true) {
      throw new CordonError('CONFIG_INVALID', `agent "${agent.id}" has no public key: set publicKey or publicKeyFile, or run: cordon agents add ${agent.id}`, { details: { field: '/agents', agent: agent.id } });
    }
  }
  return Object.freeze({
    id: agent.id,
    description: agent.description ?? '',
    groups: Object.freeze([...(agent.groups ?? [])]),
    attributes: Object.freeze({ ...(agent.attributes ?? {}) }),
    publicKey: key,
    fingerprint: key && keyFingerprint(key),
    source: 'config' as const,
  });
}

function readRegistrations(dataDir: string): Registration[] {
  const dir = agentKeyPaths(dataDir, 'x').dir;
  if (!existsSync(dir)) return [];
  const out: Registration[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    const read = readBoundedTextFile(path, MAX_REGISTRATION_FILE_BYTES);
    if ('reason' in read) throw new CordonError('CONFIG_INVALID', `${path}: ${read.reason}`, { details: { source: path } });
    let value: unknown;
    try {
      value = JSON.parse(read.text);
    } catch (err) {
      throw new CordonError('CONFIG_INVALID', `${path}: not valid JSON`, { cause: err, details: { source: path } });
    }
    out.push(parseRegistration(value, path));
  }
  return out;
}

function parseRegistration(value: unknown, path: string): Registration {
  const v = value as Partial<Registration> | null;
  const bad = (field: string, reason: string) => new CordonError('CONFIG_INVALID', `${path}: /${field} ${reason}`, { details: { source: path, field: `/${field}` } });
  if (typeof v !== 'object' || v === null) throw bad('', 'must be an object');
  if (typeof v.id !== 'string' || !AGENT_ID_PATTERN.test(v.id)) throw bad('id', 'must be an agent id');
  if (!path.endsWith(`/${v.id}.json`)) throw bad('id', 'does not match the file name');
  if (!Array.isArray(v.groups) || !v.groups.every((g) => typeof g === 'string' && GROUP_PATTERN.test(g))) throw bad('groups', 'must be a list of group names');
  if (v.description !== undefined && typeof v.description !== 'string') throw bad('description', 'must be a string');
  return { id: v.id, groups: v.groups, ...(v.description === undefined ? {} : { description: v.description }) };
}
