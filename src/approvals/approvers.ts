import type { KeyObject } from 'node:crypto';
import type { ApprovalsConfig } from '../config/config-schema.ts';
import { parsePasswordScrypt, type PasswordScrypt } from '../config/password-scrypt.ts';
import { CordonError } from '../core/errors.ts';
import { keyFingerprint, parseEd25519PublicKey, readPublicKeyFile } from '../identity/agent-keys.ts';

/** An operator registered in `approvals.approvers`, its key parsed and its rights compiled. */
export interface Approver {
  readonly name: string;
  readonly publicKey: KeyObject;
  readonly fingerprint: string;
  readonly tools: readonly string[];
  /** null: any call of its tools; else only calls whose agent or user is in one of these groups. */
  readonly groups: readonly string[] | null;
  /** For the operator web login; null when this approver has no password. */
  readonly password: PasswordScrypt | null;
  /** May this approver decide a call of `tool` whose principals are in `principalGroups`? */
  mayDecide(tool: string, principalGroups: readonly string[]): boolean;
}

export interface Approvers {
  get(name: string): Approver | undefined;
  list(): readonly Approver[];
}

/**
 * Parses every approver's key once, at start-up: a bad key stops the runtime, naming the
 * field, rather than refusing every decision later.
 */
export function loadApprovers(config: Pick<ApprovalsConfig, 'approvers'>): Approvers {
  const byName = new Map<string, Approver>();
  config.approvers.forEach((entry, i) => {
    const field = `/approvals/approvers/${i}/${entry.publicKey === undefined ? 'publicKeyFile' : 'publicKey'}`;
    let key: KeyObject;
    try {
      if (entry.publicKey !== undefined) key = parseEd25519PublicKey(entry.publicKey, `approver "${entry.name}" publicKey`);
      else if (entry.publicKeyFile !== undefined) key = readPublicKeyFile(entry.publicKeyFile);
      else throw new CordonError('KEY_INVALID', 'no key given');
    } catch (err) {
      const reason = err instanceof CordonError ? err.message : 'cannot be read';
      throw new CordonError('CONFIG_INVALID', `config: ${field}: ${reason}`, { cause: err, details: { source: 'config', field, reason } });
    }
    const password = entry.passwordScrypt === undefined ? null : parsePasswordScrypt(entry.passwordScrypt);
    if (typeof password === 'string') {
      throw new CordonError('CONFIG_INVALID', `config: /approvals/approvers/${i}/passwordScrypt ${password}`, { details: { source: 'config', field: `/approvals/approvers/${i}/passwordScrypt`, reason: password } });
    }
    const matchers = entry.tools.map(toolMatcher);
    const groups = entry.groups === undefined ? null : Object.freeze([...entry.groups]);
    byName.set(
      entry.name,
      Object.freeze({
        name: entry.name,
        publicKey: key,
        fingerprint: keyFingerprint(key),
        tools: Object.freeze([...entry.tools]),
        groups,
        password,
        mayDecide(tool: string, principalGroups: readonly string[]) {
          if (!matchers.some((m) => m(tool))) return false;
          return groups === null || principalGroups.some((g) => groups.includes(g));
        },
      }),
    );
  });
  const all = Object.freeze([...byName.values()]);
  return { get: (name) => byName.get(name), list: () => all };
}

/** `*` matches every tool; `file.*` every tool under `file.` (not `file` itself, nor `filesystem.x`). */
function toolMatcher(pattern: string): (tool: string) => boolean {
  if (pattern === '*') return () => true;
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1);
    return (tool) => tool.startsWith(prefix) && tool.length > prefix.length;
  }
  return (tool) => tool === pattern;
}
