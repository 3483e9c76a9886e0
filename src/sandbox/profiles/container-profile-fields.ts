import { isScalar, type Node } from 'yaml';
import { readContainerEnv } from './container-env.ts';
import { readInteger, readString, type LocatedYaml } from './located-yaml.ts';
import type { BackendSpec, NumberRange } from './profile-backends.ts';
import type { ContainerSettings } from './sandbox-profile.ts';

// The shape of an image recipe's name (container/image-recipe.ts, a layer above
// this one); whether the recipe exists is checked with the other references.
const IMAGE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const RUNTIMES: readonly string[] = ['runc', 'runsc'] satisfies ContainerSettings['runtime'][];
/** Below 1000 are root and the system accounts; code in a sandbox runs as neither. */
const MIN_UID = 1000;
const MAX_UID = 2_147_483_647;
const MAX_WARM_POOL = 32;

const CONTAINER_LIMITS: Readonly<Record<string, NumberRange>> = {
  // The container's memory limit: an interpreter and its libraries need more than an isolate's floor.
  memoryMb: { min: 16, max: 4096, integer: true },
  cpus: { min: 0.01, max: 64, integer: false },
  pids: { min: 8, max: 32_768, integer: true },
  workspaceMb: { min: 1, max: 65_536, integer: true },
  tmpMb: { min: 1, max: 4096, integer: true },
};

/** `backend: container`: code in a hardened Docker container built from an image recipe. */
export const CONTAINER_BACKEND: BackendSpec = {
  languages: ['python', 'sh'],
  fields: { image: readImage, runtime: readRuntime, user: readUser, env: readContainerEnv, warmPool: readWarmPool },
  limits: CONTAINER_LIMITS,
  settings(fields, limits) {
    // Each reader above returned its type: settings is called only when all of them read cleanly.
    const f = fields as { image: string; runtime: ContainerSettings['runtime']; user: number; env: ContainerSettings['env']; warmPool: number };
    const l = limits as Readonly<Record<'cpus' | 'pids' | 'workspaceMb' | 'tmpMb', number>>;
    const container: ContainerSettings = {
      image: f.image,
      runtime: f.runtime,
      user: f.user,
      env: f.env,
      cpus: l.cpus,
      pids: l.pids,
      workspaceMb: l.workspaceMb,
      tmpMb: l.tmpMb,
      warmPool: f.warmPool,
    };
    return { container };
  },
};

function readImage(at: LocatedYaml, node: Node, field: string): string | undefined {
  const v = readString(at, node, field);
  if (v === null) return undefined;
  if (IMAGE_NAME.test(v)) return v;
  at.fail(node, field, `${JSON.stringify(v.slice(0, 64))} is not an image recipe name; name a file in sandboxes/images/ without .yaml (lower case letters, digits and "-"), e.g. python`);
  return undefined;
}

function readRuntime(at: LocatedYaml, node: Node, field: string): string | undefined {
  const v = readString(at, node, field);
  if (v === null) return undefined;
  if (RUNTIMES.includes(v)) return v;
  at.fail(node, field, `${JSON.stringify(v.slice(0, 64))} is not a runtime Cordon runs; use runc (Docker's default) or runsc (gVisor)`);
  return undefined;
}

function readUser(at: LocatedYaml, node: Node, field: string): number | undefined {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < MIN_UID) {
    at.fail(node, field, `${v} is root's or a system account's uid; code in a sandbox runs unprivileged: use ${MIN_UID} to ${MAX_UID}`);
    return undefined;
  }
  return readInteger(at, node, field, MIN_UID, MAX_UID) ?? undefined;
}

function readWarmPool(at: LocatedYaml, node: Node, field: string): number | undefined {
  return readInteger(at, node, field, 0, MAX_WARM_POOL) ?? undefined;
}
