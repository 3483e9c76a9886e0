import { allow, deny, type Decision } from '../core/decision.ts';
import { parseEgressTarget, type EgressRequest, type EgressTarget } from './canonical-host.ts';
import { classifyAddress, describeAddress, type AddressClass } from './classify-address.ts';
import type { EgressPolicy, EgressRule } from './egress-policy.ts';
import type { EgressReasonCode } from './egress-reason.ts';
import { cidrContains, parseIp } from '../core/ip-address.ts';
import { describeTarget, matchEgressRules } from './match-rules.ts';
import { refusedHostKind } from './refused-hosts.ts';
import type { Resolver } from './resolver.ts';

/** The guard's answer: the decision, and the one address it may dial. */
export interface EgressVerdict {
  readonly decision: Decision;
  readonly code: EgressReasonCode;
  readonly policy: string;
  readonly target: EgressTarget | null;
  /** The pinned address; the only one that may be dialled for this request. null when denied. */
  readonly address: string | null;
  /** The allow rule that matched (it decides injection), or null. */
  readonly rule: EgressRule | null;
  /** Report mode: what enforce mode would have refused, or null. */
  readonly wouldDeny: { readonly code: EgressReasonCode; readonly reason: string; readonly ruleId: string | null } | null;
  /** Every answer the resolver gave, and why each refused one was dropped. */
  readonly answers: readonly string[];
  readonly dropped: ReadonlyArray<{ readonly address: string; readonly reason: string }>;
}

export interface DecideOptions {
  readonly signal?: AbortSignal;
}

/**
 * One egress decision, in this order:
 *  1. parse and canonicalise (malformed → deny);
 *  2. localhost, *.localhost and metadata names → deny, before any lookup;
 *  3. deny rules, then allow rules (IP literals need an exact IP entry; open mode allows any host);
 *  4. resolve once (A and AAAA), drop every forbidden answer, pin the first survivor.
 * Report mode turns policy refusals (3 and deny_cidrs) into allows that carry
 * `wouldDeny`; it never relaxes 1, 2 or the address table — report mode must
 * not become a way to reach metadata or loopback.
 * Never throws for anything the sandbox sent; a resolver failure is a deny.
 */
export async function decide(policy: EgressPolicy, request: EgressRequest | EgressTarget, resolver: Resolver, options: DecideOptions = {}): Promise<EgressVerdict> {
  let target: EgressTarget;
  if ('scheme' in request) target = request;
  else {
    const parsed = parseEgressTarget(request);
    if (!parsed.ok) return refuse(policy, null, 'invalid_request', parsed.reason, null);
    target = parsed.target;
  }

  const refused = target.hostKind === 'dns' ? refusedHostKind(target.host) : null;
  if (refused === 'localhost') return refuse(policy, target, 'localhost', `${target.host} is always refused (localhost)`, 'cordon:localhost');
  if (refused === 'metadata') return refuse(policy, target, 'metadata_host', `${target.host} is a cloud metadata host; always refused`, 'cordon:metadata');

  const match = matchEgressRules(policy, target);
  let wouldDeny: EgressVerdict['wouldDeny'] = null;
  if (!match.ok) {
    if (policy.mode !== 'report') return refuse(policy, target, match.code, match.reason, match.ruleId);
    wouldDeny = { code: match.code, reason: match.reason, ruleId: match.ruleId };
  }
  const rule = match.ok ? match.rule : null;

  let answers: readonly string[];
  if (target.hostKind === 'dns') {
    try {
      answers = await resolver.resolve(target.host, options.signal);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return refuse(policy, target, 'resolution_failed', `${target.host} did not resolve: ${why}`, null);
    }
    if (answers.length === 0) return refuse(policy, target, 'resolution_failed', `${target.host} has no A or AAAA records`, null);
  } else {
    answers = [target.host];
  }

  const dropped: Array<{ address: string; reason: string }> = [];
  let pinned: AddressClass | null = null;
  let reportPin: { cls: AddressClass; reason: string; ruleId: string } | null = null;
  let cidrRuleId: string | null = null;
  let onlyCidrDrops = true;
  const seen = new Set<string>();
  for (const answer of answers) {
    const cls = classifyAddress(answer);
    if (cls === null) {
      dropped.push({ address: answer, reason: 'not an IP address' });
      continue;
    }
    if (seen.has(cls.address)) continue;
    seen.add(cls.address);
    const verdict = checkAddress(policy, cls);
    if (verdict.ok) {
      pinned = cls;
      break;
    }
    dropped.push({ address: cls.address, reason: verdict.reason });
    onlyCidrDrops &&= verdict.policyOnly;
    if (verdict.policyOnly) cidrRuleId ??= verdict.ruleId;
    if (verdict.policyOnly && reportPin === null) reportPin = { cls, reason: verdict.reason, ruleId: verdict.ruleId };
  }

  const base = { policy: policy.name, target, rule, answers: [...answers], dropped };
  const where = describeTarget(target);
  if (pinned === null && policy.mode === 'report' && reportPin !== null) {
    pinned = reportPin.cls;
    wouldDeny ??= { code: 'denied_by_cidr', reason: `${where}: ${reportPin.reason}`, ruleId: reportPin.ruleId };
  }
  if (pinned === null) {
    const allCidr = dropped.length > 0 && onlyCidrDrops;
    const code: EgressReasonCode = allCidr ? 'denied_by_cidr' : 'forbidden_address';
    const reason = `${where}: no permitted address (${dropped.map((d) => d.reason).join('; ')})`;
    return { ...base, decision: deny(reason, allCidr ? cidrRuleId : 'cordon:address'), code, address: null, wouldDeny: null };
  }
  const ruleId = match.ok ? match.ruleId : (wouldDeny?.ruleId ?? `${policy.name}:report`);
  const reason = wouldDeny !== null ? `report mode: would deny: ${wouldDeny.reason}` : `${match.reason}; pinned ${pinned.address}`;
  return { ...base, decision: allow(reason, ruleId), code: wouldDeny?.code ?? (match.ok ? match.code : 'allowed'), address: pinned.address, wouldDeny };
}

type AddressCheck = { ok: true } | { ok: false; reason: string; ruleId: string; policyOnly: boolean };

/** Whether one resolved (or literal) address may be dialled under this policy. */
export function checkAddress(policy: EgressPolicy, cls: AddressClass): AddressCheck {
  // Metadata first: no rule of any kind reaches it.
  if (cls.metadata) return { ok: false, reason: describeAddress(cls), ruleId: 'cordon:metadata', policyOnly: false };
  const embedded = cls.embeddedIpv4 !== null && cls.embeddedIpv4 !== cls.address ? parseIp(cls.embeddedIpv4) : null;
  for (const c of policy.denyCidrs) {
    // An address with an embedded IPv4 is denied by either spelling.
    if (cidrContains(c.cidr, cls.ip) || (embedded !== null && cidrContains(c.cidr, embedded))) {
      return { ok: false, reason: `${cls.address} is in deny_cidrs ${c.cidr.text} (${c.id})`, ruleId: c.id, policyOnly: true };
    }
  }
  if (!cls.forbidden) return { ok: true };
  if (cls.openable) {
    // allow_cidrs opens an address by its own spelling only: an IPv4 range does not
    // open a NAT64/6to4 address that merely embeds it.
    for (const c of policy.allowCidrs) if (cidrContains(c.cidr, cls.ip)) return { ok: true };
  }
  return { ok: false, reason: describeAddress(cls), ruleId: 'cordon:address', policyOnly: false };
}

function refuse(policy: EgressPolicy, target: EgressTarget | null, code: EgressReasonCode, reason: string, ruleId: string | null): EgressVerdict {
  return refusedVerdict(policy.name, target, code, reason, ruleId);
}

/** A deny verdict for refusals decided outside a policy (identity, limits, SNI). */
export function refusedVerdict(policy: string, target: EgressTarget | null, code: EgressReasonCode, reason: string, ruleId: string | null): EgressVerdict {
  return { decision: deny(reason, ruleId), code, policy, target, address: null, rule: null, wouldDeny: null, answers: [], dropped: [] };
}

