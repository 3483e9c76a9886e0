import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CordonError } from '../core/errors.ts';
import { readBoundedTextFile } from '../core/read-bounded-file.ts';
import { MAX_REGISTRATION_FILE_BYTES } from './agent-registry.ts';
import { LOCAL_USER_ISSUER, userKey, type UserRef } from '../core/principal.ts';
import { GROUP_PATTERN, USER_ID_PATTERN, type UserConfig } from '../config/config-schema.ts';

export interface KnownUser {
  readonly issuer: string;
  readonly subject: string;
  /** userKey of (issuer, subject): the id of the Cedar `User` entity. */
  readonly key: string;
  readonly groups: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
  readonly source: 'config' | 'data-dir' | 'token';
}

export interface UserDirectory {
  /**
   * What Cordon knows of a user, looked up by issuer and subject together: an entry for
   * `alice` of one issuer says nothing about `alice` of another. A user only known from a
   * token has no groups or attributes.
   */
  get(user: UserRef): KnownUser;
  list(): readonly KnownUser[];
}

export function userRegistrationPath(dataDir: string, id: string): string {
  return join(dataDir, 'users', `${id}.json`);
}

function knownUser(issuer: string, subject: string, groups: readonly string[], attributes: Readonly<Record<string, string>>, source: KnownUser['source']): KnownUser {
  return Object.freeze({ issuer, subject, key: userKey({ issuer, subject }), groups: Object.freeze([...groups]), attributes: Object.freeze({ ...attributes }), source });
}

/**
 * Users from the config file (of the issuer each names; local when unset), then `cordon users add`
 * registrations, which are always local users (config wins).
 */
export function loadUserDirectory(users: readonly UserConfig[], dataDir: string): UserDirectory {
  const byKey = new Map<string, KnownUser>();
  for (const u of users) {
    const user = knownUser(u.issuer ?? LOCAL_USER_ISSUER, u.id, u.groups ?? [], u.attributes ?? {}, 'config');
    byKey.set(user.key, user);
  }
  const dir = join(dataDir, 'users');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const path = join(dir, name);
      const read = readBoundedTextFile(path, MAX_REGISTRATION_FILE_BYTES);
      if ('reason' in read) throw new CordonError('CONFIG_INVALID', `${path}: ${read.reason}`, { details: { source: path } });
      let v: { id?: unknown; groups?: unknown };
      try {
        v = JSON.parse(read.text) as typeof v;
      } catch (err) {
        throw new CordonError('CONFIG_INVALID', `${path}: not valid JSON`, { cause: err, details: { source: path } });
      }
      if (typeof v.id !== 'string' || !USER_ID_PATTERN.test(v.id) || name !== `${v.id}.json`) throw new CordonError('CONFIG_INVALID', `${path}: /id must be a user id matching the file name`, { details: { source: path, field: '/id' } });
      if (!Array.isArray(v.groups) || !v.groups.every((g) => typeof g === 'string' && GROUP_PATTERN.test(g))) throw new CordonError('CONFIG_INVALID', `${path}: /groups must be a list of strings`, { details: { source: path, field: '/groups' } });
      const user = knownUser(LOCAL_USER_ISSUER, v.id, v.groups as string[], {}, 'data-dir');
      if (!byKey.has(user.key)) byKey.set(user.key, user);
    }
  }
  const all = Object.freeze([...byKey.values()]);
  return {
    get: (user) => byKey.get(userKey(user)) ?? knownUser(user.issuer, user.subject, [], {}, 'token'),
    list: () => all,
  };
}
