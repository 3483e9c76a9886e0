import type { Node } from 'yaml';
import { deepFreeze } from '../../config/merge.ts';
import { CONTAINER_BACKEND } from './container-profile-fields.ts';
import type { LocatedYaml } from './located-yaml.ts';
import type { ProfileBackend, SandboxProfile } from './sandbox-profile.ts';

/** A numeric field's accepted range, inclusive; `integer` ones take whole numbers only. */
export interface NumberRange {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
}

/** Reads one backend-specific field; reports through `at` and returns undefined when invalid. */
export type FieldReader = (at: LocatedYaml, node: Node, field: string) => unknown;

/** The part of a profile that belongs to its backend. */
export type BackendSettings = Pick<SandboxProfile, 'container'>;

/**
 * What each backend adds to the common profile fields. A new backend adds an
 * entry here: its languages, its own top-level fields with a reader each, its
 * own limits, and how those become its part of the profile. One backend's
 * fields are unknown fields in another.
 */
export interface BackendSpec {
  /** Languages a sandbox of this backend can run; a profile lists a non-empty subset. */
  readonly languages: readonly string[];
  /** Top-level fields only this backend accepts, all required. */
  readonly fields: Readonly<Record<string, FieldReader>>;
  /**
   * Fields under `limits` only this backend accepts, all required; or a common
   * limit (`memoryMb`) whose range this backend narrows.
   */
  readonly limits: Readonly<Record<string, NumberRange>>;
  /**
   * The backend's part of the profile, from what its `fields` readers returned
   * and its own `limits`; called only when every field read cleanly.
   */
  readonly settings: (fields: Readonly<Record<string, unknown>>, limits: Readonly<Record<string, number>>) => BackendSettings;
}

const ISOLATE_BACKEND: BackendSpec = {
  languages: ['javascript'],
  fields: {},
  limits: {},
  settings: () => ({ container: null }),
};

export const BACKENDS: Readonly<Record<ProfileBackend, BackendSpec>> = deepFreeze({
  isolate: ISOLATE_BACKEND,
  container: CONTAINER_BACKEND,
});

export const SUPPORTED_BACKENDS: readonly ProfileBackend[] = Object.freeze(Object.keys(BACKENDS) as ProfileBackend[]);

export function backendSpec(name: string): BackendSpec | undefined {
  return Object.hasOwn(BACKENDS, name) ? BACKENDS[name as ProfileBackend] : undefined;
}

/** The backend whose own field `key` is (top level, or under `limits`), for "unknown field" messages. */
export function backendOwning(section: 'top' | 'limits', key: string): ProfileBackend | undefined {
  return SUPPORTED_BACKENDS.find((b) => Object.hasOwn(section === 'top' ? BACKENDS[b].fields : BACKENDS[b].limits, key));
}
