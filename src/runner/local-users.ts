import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SignJWT } from 'jose';
import { CordonError } from '../core/errors.ts';
import { LOCAL_USER_ISSUER } from '../core/principal.ts';
import { invalidGroup, USER_ID_PATTERN, type CordonConfig } from '../config/config-schema.ts';
import { ensurePrivateDir, readAgentPrivateKey } from '../identity/agent-keys.ts';
import { signAgentAssertion } from '../identity/agent-token.ts';
import { loadOrCreateSigningKey } from '../identity/signing-keys.ts';
import { GRANT_TOKEN_EXCHANGE } from '../identity/token-service.ts';
import { loadUserDirectory, userRegistrationPath, type KnownUser } from '../identity/user-directory.ts';

/** Registers a local user (embedded default): what `cordon users add` does. */
export function addLocalUser(config: CordonConfig, id: string, groups: readonly string[]): KnownUser {
  if (!USER_ID_PATTERN.test(id)) throw new CordonError('USAGE', `user id ${JSON.stringify(id.slice(0, 64))} is invalid: letters, digits, ".", "_", "@", "+", "-"`, { details: { field: 'name' } });
  if (!config.auth.localUsers.enabled) throw new CordonError('USAGE', 'local users are switched off (auth.localUsers.enabled: false); users come from your identity provider');
  const badGroup = invalidGroup(groups);
  if (badGroup !== undefined) throw new CordonError('USAGE', `group ${JSON.stringify(badGroup.slice(0, 64))} is invalid: letters, digits, ".", "_", ":", "-"`, { details: { field: 'group' } });
  const directory = loadUserDirectory(config.users, config.dataDir);
  if (directory.get({ issuer: LOCAL_USER_ISSUER, subject: id }).source !== 'token') throw new CordonError('AGENT_EXISTS', `user "${id}" is already registered`, { details: { user: id } });
  const path = userRegistrationPath(config.dataDir, id);
  ensurePrivateDir(dirname(path));
  writeFileSync(path, JSON.stringify({ id, groups, createdAt: new Date().toISOString() }, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return loadUserDirectory(config.users, config.dataDir).get({ issuer: LOCAL_USER_ISSUER, subject: id });
}

export function listUsers(config: CordonConfig): readonly KnownUser[] {
  return loadUserDirectory(config.users, config.dataDir).list();
}

/**
 * A user token from Cordon's local issuer, as an identity provider would issue it. `mayAct` names
 * the agents that may act for the user with it; without it only `auth.localUsers.actors` may.
 */
export async function mintLocalUserToken(config: CordonConfig, id: string, options: { ttlSec: number; mayAct?: readonly string[] }): Promise<string> {
  if (!config.auth.localUsers.enabled) throw new CordonError('USAGE', 'local users are switched off (auth.localUsers.enabled: false)');
  if (loadUserDirectory(config.users, config.dataDir).get({ issuer: LOCAL_USER_ISSUER, subject: id }).source === 'token') {
    throw new CordonError('AGENT_NOT_FOUND', `no user "${id}"; add one with: cordon users add ${id}`, { details: { user: id } });
  }
  const key = loadOrCreateSigningKey(config.dataDir, 'local-users');
  const now = Math.floor(Date.now() / 1000);
  const mayAct = options.mayAct === undefined || options.mayAct.length === 0 ? {} : { may_act: options.mayAct.length === 1 ? { sub: options.mayAct[0] } : options.mayAct.map((sub) => ({ sub })) };
  return new SignJWT(mayAct)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid })
    .setIssuer(LOCAL_USER_ISSUER)
    .setSubject(id)
    .setAudience(config.auth.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + options.ttlSec)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

/** A single-use assertion signed with a local agent's key (client_assertion or actor_token). */
export function signLocalAssertion(config: CordonConfig, agentId: string): Promise<string> {
  return signAgentAssertion({ agentId, privateKey: readAgentPrivateKey(config.dataDir, agentId), audience: config.auth.audience, ttlSec: Math.min(60, config.auth.assertionMaxLifetimeSec) });
}

/** The token-exchange parameters for a local agent acting for a local user. */
export async function localExchangeParams(config: CordonConfig, agentId: string, userId: string): Promise<Record<string, string>> {
  return {
    grant_type: GRANT_TOKEN_EXCHANGE,
    // The user's token names the one agent that may act with it (may_act), as an IdP would.
    subject_token: await mintLocalUserToken(config, userId, { ttlSec: 300, mayAct: [agentId] }),
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    actor_token: await signLocalAssertion(config, agentId),
    actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
  };
}
