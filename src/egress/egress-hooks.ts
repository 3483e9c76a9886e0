import { deny, type Decision } from '../core/decision.ts';
import { formatAuthority, type EgressTarget } from './canonical-host.ts';
import { refusedVerdict, type EgressVerdict } from './egress-decider.ts';
import type { EgressIdentity } from './egress-identity.ts';
import type { EgressReasonCode } from './egress-reason.ts';

/**
 * Steps the layers above attach to one sandbox's egress: the runner supplies
 * them (policy engine, session facts) when it binds a sandbox's fetch or opens
 * its proxy channel; egress calls them around every request, every redirect hop
 * and every CONNECT, on every channel, so no path skips them.
 */
export type EgressHookChannel = 'fetch' | 'proxy';

export interface EgressHookRequest {
  /** Canonical URL of this hop; for CONNECT `https://<host>:<port>/`. */
  readonly url: string;
  /**
   * The target the guard decides on, in the egress layer's one canonical form: a
   * policy engine builds its resource from these parts (host, port, scheme, path)
   * rather than parsing `url` again, so it can never see another spelling of the
   * host than the one that is dialled.
   */
  readonly target: EgressTarget;
  /** The method this hop is sent with (a 303 turns POST into GET); `CONNECT` for tunnels. */
  readonly method: string;
  /** 0 for the request the sandbox made, n for the n-th redirect Cordon follows (always 0 on the proxy). */
  readonly hop: number;
  readonly channel: EgressHookChannel;
}

export interface EgressHookResponse {
  /** Canonical host, as in the egress policy and audit record. */
  readonly host: string;
  readonly url: string;
  /** Upstream status; 200 for an established CONNECT tunnel. */
  readonly status: number;
  readonly channel: EgressHookChannel;
}

export interface EgressHooks {
  /** Before the egress policy decides each request and each redirect hop. Any non-allow, or a throw, refuses (fail closed). */
  authorize(request: EgressHookRequest): Promise<Decision>;
  /**
   * When an upstream answered an allowed request or hop, before any of its body
   * reaches the sandbox (not called for refusals). Must not throw; if it does, it is ignored.
   */
  observe(response: EgressHookResponse): void;
}

/** A hook's refusal as an egress verdict, so it is rendered and audited like any other. */
export interface HookRefusal {
  readonly verdict: EgressVerdict;
  /** Set when the hook threw: what the audit record says (the sandbox is told less). */
  readonly outcome?: { readonly code: EgressReasonCode; readonly reason: string; readonly result: 'deny' };
}

/** One spelling of a hop's URL for the hooks: built from the target the guard decides on, not the raw input. */
export function targetUrl(target: EgressTarget): string {
  if (target.scheme === 'connect') return `https://${formatAuthority(target, true)}/`;
  return `${target.scheme}://${formatAuthority(target)}${target.path ?? '/'}${target.search}`;
}

/**
 * Asks the hooks about one hop; null means go on to the egress guard.
 * Fail closed: a throw, a rejected or aborted call, or anything but an explicit
 * allow refuses — a broken policy engine must never mean "unchecked".
 */
export async function authorizeHop(hooks: EgressHooks | undefined, identity: EgressIdentity, target: EgressTarget, hop: number, channel: EgressHookChannel, signal?: AbortSignal): Promise<HookRefusal | null> {
  if (hooks === undefined) return null;
  const policy = identity.egressPolicy ?? '';
  let decision: Partial<Decision> | null | undefined;
  try {
    const asked = Promise.resolve(hooks.authorize({ url: targetUrl(target), target, method: target.method ?? 'CONNECT', hop, channel }));
    decision = signal === undefined ? await asked : await untilAborted(asked, signal);
  } catch (err) {
    // The error may name internals of the policy engine: the audit record keeps it, the sandbox gets a fixed reason.
    const why = err instanceof Error ? err.message : String(err);
    return {
      verdict: refusedVerdict(policy, target, 'policy_denied', 'authorization failed; the request was refused', 'cordon:hooks'),
      outcome: { code: 'policy_denied', reason: `authorize hook failed: ${why}`, result: 'deny' },
    };
  }
  const result: unknown = decision?.result;
  if (result === 'allow') return null;
  const code: EgressReasonCode = result === 'require_approval' ? 'approval_required' : 'policy_denied';
  const reason = typeof decision?.reason === 'string' ? decision.reason : 'refused by policy';
  const ruleId = typeof decision?.ruleId === 'string' ? decision.ruleId : null;
  const verdict = refusedVerdict(policy, target, code, reason, ruleId);
  const details = decision?.details;
  return { verdict: details === undefined ? verdict : { ...verdict, decision: { ...deny(reason, ruleId), details } } };
}

/** Tells the hooks an upstream answered. Never throws, and never lets an async observer's rejection escape. */
export function observeHop(hooks: EgressHooks | undefined, target: EgressTarget, status: number, channel: EgressHookChannel): void {
  if (hooks === undefined) return;
  try {
    const r: unknown = hooks.observe({ host: target.host, url: targetUrl(target), status, channel });
    if (r instanceof Promise) r.catch(() => undefined);
  } catch {
    // Documented: observe must not throw; the response already stands.
  }
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
