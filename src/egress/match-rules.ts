import { defaultPort, type EgressTarget } from './canonical-host.ts';
import type { EgressPolicy, EgressRule } from './egress-policy.ts';
import type { EgressReasonCode } from './egress-reason.ts';
import { hasAmbiguousEncoding } from './path-pattern.ts';

/** The host-level half of a decision: deny list, then allow list. Synchronous and allocation-light. */
export type RuleMatch =
  | { readonly ok: true; readonly rule: EgressRule | null; readonly ruleId: string; readonly reason: string; readonly code: EgressReasonCode }
  | { readonly ok: false; readonly ruleId: string | null; readonly reason: string; readonly code: EgressReasonCode };

export function matchEgressRules(policy: EgressPolicy, target: EgressTarget): RuleMatch {
  const where = describeTarget(target);
  for (const rule of policy.denyIndex.lookup(target.host, target.hostKind)) {
    if (ruleCovers(rule, target) === null) return { ok: false, ruleId: rule.id, code: 'denied_by_rule', reason: `${where} is denied by ${rule.id}` };
  }
  const candidates = policy.allowIndex.lookup(target.host, target.hostKind);
  let nearMiss: string | null = null;
  for (const rule of candidates) {
    const miss = ruleCovers(rule, target);
    if (miss === null) return { ok: true, rule, ruleId: rule.id, code: 'allowed', reason: `${where} is allowed by ${rule.id}` };
    nearMiss ??= `${rule.id} names the host but ${miss}`;
  }
  if (policy.mode === 'open') {
    return { ok: true, rule: null, ruleId: `${policy.name}:open`, code: 'open_mode', reason: `${where} is allowed: policy ${policy.name} is in open mode` };
  }
  if (target.hostKind !== 'dns' && candidates.length === 0) {
    return { ok: false, ruleId: null, code: 'ip_literal_not_listed', reason: `${where}: an IP address needs an exact allow entry for that address` };
  }
  const detail = nearMiss ?? `no allow rule names ${target.host}`;
  return { ok: false, ruleId: null, code: 'no_matching_rule', reason: `${where} is not allowed (${detail})` };
}

/**
 * null when the rule covers the target; otherwise what did not match. The same
 * test serves deny rules, except that where a deny rule depends on something a
 * CONNECT tunnel hides (method, path), it is taken to match: fail closed.
 */
function ruleCovers(rule: EgressRule, target: EgressTarget): string | null {
  const scheme = target.scheme === 'connect' ? 'https' : target.scheme;
  if (rule.schemes !== null && !rule.schemes.includes(scheme)) {
    return `scheme ${target.scheme === 'connect' ? 'CONNECT (https)' : scheme} is not in [${rule.schemes.join(', ')}]`;
  }
  const deny = rule.list === 'deny';
  // A deny rule without ports covers every port: "deny pastebin.com" must not let
  // pastebin.com:8080 (or a tunnel service's TCP port) through. An allow rule
  // without ports opens only the scheme's default port: allowing stays narrow.
  if (rule.ports !== null || !deny) {
    const ports = rule.ports ?? [defaultPort(target.scheme)];
    if (!ports.includes(target.port)) return `port ${target.port} is not in [${ports.join(', ')}]`;
  }
  if (rule.methods === null && rule.paths === null) return null;
  if (target.scheme === 'connect' || target.method === null || target.path === null) {
    return deny ? null : 'it restricts methods or paths, which a CONNECT tunnel does not show';
  }
  if (rule.methods !== null && !rule.methods.includes(target.method)) return `method ${target.method} is not in [${rule.methods.join(', ')}]`;
  if (rule.paths !== null) {
    if (hasAmbiguousEncoding(target.path)) return deny ? null : `path ${target.path} has an encoded "/", "\\", "." or NUL`;
    if (!rule.paths.some((p) => p.regex.test(target.path ?? ''))) return `path ${target.path} is not in [${rule.paths.map((p) => p.text).join(', ')}]`;
  }
  return null;
}

export function describeTarget(t: EgressTarget): string {
  const host = t.hostKind === 'ipv6' ? `[${t.host}]` : t.host;
  return t.scheme === 'connect' ? `CONNECT ${host}:${t.port}` : `${t.method ?? 'GET'} ${t.scheme}://${host}:${t.port}${t.path ?? ''}`;
}
