import { parseEgressTarget, type EgressRequest, type EgressTarget } from './canonical-host.ts';
import { decide, refusedVerdict, type EgressVerdict } from './egress-decider.ts';
import type { EgressIdentity } from './egress-identity.ts';
import type { EgressPolicy } from './egress-policy.ts';
import type { Resolver } from './resolver.ts';
import { createSecretRedactor, type SecretRedactor } from './secret-redaction.ts';
import { expandSecretTemplate, type SecretStore } from './secret-template.ts';

/**
 * The EgressGuard of the design: a sandbox identity plus a request in, a verdict
 * out. Both the proxy and the isolate fetch bridge go through it, so there is one
 * place where the identity's policy is chosen and applied.
 */
export interface EgressGuardOptions {
  /** Loaded policies by name (loadEgressPolicies), or a lookup for hot reload. */
  readonly policies: ReadonlyMap<string, EgressPolicy> | ((name: string) => EgressPolicy | undefined);
  readonly resolver: Resolver;
  readonly secrets?: SecretStore;
  /** ms since the epoch; injectable for tests. */
  readonly now?: () => number;
}

export type Injection =
  | { readonly ok: true; readonly header: { readonly name: string; readonly value: string } | null; readonly secretValues: readonly string[] }
  | { readonly ok: false; readonly missing: string };

export interface EgressGuard {
  check(identity: EgressIdentity, request: EgressRequest | EgressTarget, signal?: AbortSignal): Promise<EgressVerdict>;
  /**
   * The header to add for an allowed verdict, if its rule injects one. Only for
   * https requests Cordon itself sends (fetch bridge, absolute-form https through
   * the proxy): never into a CONNECT tunnel, never over plain http.
   */
  injection(verdict: EgressVerdict): Injection;
  /** Every secret value injected so far, for redacting outputs and logs. */
  readonly redactor: SecretRedactor;
  now(): number;
}

export function createEgressGuard(options: EgressGuardOptions): EgressGuard {
  const { policies, resolver } = options;
  const lookup = typeof policies === 'function' ? policies : (name: string) => policies.get(name);
  const now = options.now ?? Date.now;
  const redactor = createSecretRedactor();
  return {
    redactor,
    now,
    async check(identity, request, signal) {
      let target: EgressTarget;
      if ('scheme' in request) target = request;
      else {
        const parsed = parseEgressTarget(request);
        if (!parsed.ok) return refusedVerdict(identity.egressPolicy ?? '', null, 'invalid_request', parsed.reason, null);
        target = parsed.target;
      }
      if (identity.expiresAt * 1000 <= now()) {
        return refusedVerdict(identity.egressPolicy ?? '', target, 'sandbox_expired', `sandbox ${identity.id} expired`, 'cordon:identity');
      }
      if (identity.egressPolicy === null) {
        return refusedVerdict('', target, 'no_egress_policy', `sandbox ${identity.id} has no egress policy: no egress at all`, 'cordon:identity');
      }
      const policy = lookup(identity.egressPolicy);
      if (policy === undefined) {
        // Fail closed: a typo in config must not mean "no restrictions".
        return refusedVerdict(identity.egressPolicy, target, 'unknown_policy', `egress policy "${identity.egressPolicy}" is not loaded`, 'cordon:identity');
      }
      return decide(policy, target, resolver, { signal });
    },
    injection(verdict) {
      const inject = verdict.rule?.inject;
      // Report mode can allow what enforce would refuse (no rule matched, or the
      // address is in deny_cidrs): a secret never goes anywhere enforce would not send it.
      if (verdict.decision.result !== 'allow' || verdict.wouldDeny !== null || inject === undefined || inject === null || verdict.target?.scheme !== 'https') {
        return { ok: true, header: null, secretValues: [] };
      }
      if (options.secrets === undefined) return { ok: false, missing: inject.value.secretNames[0] ?? '(store)' };
      const expanded = expandSecretTemplate(inject.value, options.secrets);
      if (!expanded.ok) return expanded;
      for (const v of expanded.secretValues) redactor.remember(v);
      return { ok: true, header: { name: inject.header, value: expanded.value }, secretValues: expanded.secretValues };
    },
  };
}
