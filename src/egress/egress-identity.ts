/**
 * Who egress traffic belongs to. The runner maps its sandbox identity onto this;
 * the proxy and the fetch bridge learn it from the channel the traffic arrived on
 * (the sandbox's own socket, its own proxy credential, its own injected fetch),
 * never from anything the sandboxed code sends.
 */
export interface EgressIdentity {
  /** Sandbox id; also names its unix socket, so it must match SANDBOX_ID. */
  readonly id: string;
  /** `spiffe://<trust-domain>/sandbox/<profile>/<id>` */
  readonly uri: string;
  readonly profile: string;
  /** Name of the egress policy; null means no egress at all. */
  readonly egressPolicy: string | null;
  readonly agent: string;
  readonly user: string | null;
  /** Seconds since the epoch (like Principal.expiresAt). */
  readonly expiresAt: number;
}

/** Safe as a file name and an HTTP Basic user name. */
export const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
