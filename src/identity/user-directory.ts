import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CordonError } from '../core/errors.ts';
import { GROUP_PATTERN, USER_ID_PATTERN, type UserConfig } from '../config/config-schema.ts';

export interface KnownUser {
  readonly id: string;
  readonly groups: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
  readonly source: 'config' | 'data-dir' | 'token';
}

export interface UserDirectory {
  /** What Cordon knows of a user; a user only known from a token has no groups or attributes. */
  get(id: string): KnownUser;
  list(): readonly KnownUser[];
}

export function userRegistrationPath(dataDir: string, id: string): string {
  return join(dataDir, 'users', `${id}.json`);
}

/** Users from the config file, then from `cordon users add` registrations (config wins). */
export function loadUserDirectory(users: readonly UserConfig[], dataDir: string): UserDirectory {
  const byId = new Map<string, KnownUser>();
  for (const u of users) byId.set(u.id, Object.freeze({ id: u.id, groups: Object.freeze([...(u.groups ?? [])]), attributes: Object.freeze({ ...(u.attributes ?? {}) }), source: 'config' as const }));
  const dir = join(dataDir, 'users');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const path = join(dir, name);
      let v: { id?: unknown; groups?: unknown };
      try {
        v = JSON.parse(readFileSync(path, 'utf8')) as typeof v;
      } catch (err) {
        throw new CordonError('CONFIG_INVALID', `${path}: not valid JSON`, { cause: err, details: { source: path } });
      }
      if (typeof v.id !== 'string' || !USER_ID_PATTERN.test(v.id) || name !== `${v.id}.json`) throw new CordonError('CONFIG_INVALID', `${path}: /id must be a user id matching the file name`, { details: { source: path, field: '/id' } });
      if (!Array.isArray(v.groups) || !v.groups.every((g) => typeof g === 'string' && GROUP_PATTERN.test(g))) throw new CordonError('CONFIG_INVALID', `${path}: /groups must be a list of strings`, { details: { source: path, field: '/groups' } });
      if (!byId.has(v.id)) byId.set(v.id, Object.freeze({ id: v.id, groups: Object.freeze([...(v.groups as string[])]), attributes: {}, source: 'data-dir' as const }));
    }
  }
  const all = Object.freeze([...byId.values()]);
  return {
    get: (id) => byId.get(id) ?? Object.freeze({ id, groups: [], attributes: {}, source: 'token' as const }),
    list: () => all,
  };
}
