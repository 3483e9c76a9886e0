import { newId } from '../core/ids.ts';
import { principalUserKey, type Principal } from '../core/principal.ts';

export type BackendKind = 'isolate' | 'container' | 'browser';

/**
 * The identity a sandbox carries for its whole life. Its traffic and records
 * are attributed to it; the egress layer learns it from the channel traffic
 * arrives on, never from anything the sandbox says.
 */
export interface SandboxIdentity {
  readonly id: string;
  /** `spiffe://<trust-domain>/sandbox/<profile>/<id>` */
  readonly uri: string;
  readonly profile: string;
  readonly backend: BackendKind;
  /** Name of the egress policy; null means no egress at all. */
  readonly egressPolicy: string | null;
  readonly agent: string;
  /** userKey of the user it acts for (issuer and subject), or null. */
  readonly user: string | null;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** Seconds since the epoch: the sandbox's credentials die then. */
  readonly expiresAt: number;
}

export function createSandboxIdentity(input: {
  readonly principal: Principal;
  readonly profile: string;
  readonly backend: BackendKind;
  readonly egressPolicy: string | null;
  readonly trustDomain: string;
  readonly lifetimeMs: number;
  readonly now: number;
}): SandboxIdentity {
  const id = newId('sbx');
  return Object.freeze({
    id,
    uri: `spiffe://${input.trustDomain}/sandbox/${input.profile}/${id}`,
    profile: input.profile,
    backend: input.backend,
    egressPolicy: input.egressPolicy,
    agent: input.principal.agent,
    user: principalUserKey(input.principal),
    createdAt: input.now,
    expiresAt: Math.ceil((input.now + input.lifetimeMs) / 1000) + 5,
  });
}
