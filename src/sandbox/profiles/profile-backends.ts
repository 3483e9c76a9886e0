import type { Node } from 'yaml';
import type { LocatedYaml } from './located-yaml.ts';
import type { ProfileBackend } from './sandbox-profile.ts';

/** An integer field's accepted range, inclusive. */
export interface IntRange {
  readonly min: number;
  readonly max: number;
}

/** Reads one backend-specific field; reports through `at` and returns undefined when invalid. */
export type FieldReader = (at: LocatedYaml, node: Node, field: string) => unknown;

/**
 * What each backend adds to the common profile fields. A new backend (a
 * container with image, cpus, pids, workspaceMb, env, user, runtime) adds an
 * entry here: its languages, its own top-level fields with a reader each, and
 * its own integer limits. One backend's fields are unknown fields in another.
 */
export interface BackendSpec {
  /** Languages a sandbox of this backend can run; a profile lists a non-empty subset. */
  readonly languages: readonly string[];
  /** Top-level fields only this backend accepts, all required. */
  readonly fields: Readonly<Record<string, FieldReader>>;
  /** Integer fields under `limits` only this backend accepts, all required. */
  readonly limits: Readonly<Record<string, IntRange>>;
}

export const BACKENDS: Readonly<Record<ProfileBackend, BackendSpec>> = Object.freeze({
  isolate: Object.freeze({ languages: Object.freeze(['javascript']), fields: Object.freeze({}), limits: Object.freeze({}) }),
});

export const SUPPORTED_BACKENDS: readonly ProfileBackend[] = Object.freeze(Object.keys(BACKENDS) as ProfileBackend[]);

export function backendSpec(name: string): BackendSpec | undefined {
  return Object.hasOwn(BACKENDS, name) ? BACKENDS[name as ProfileBackend] : undefined;
}
