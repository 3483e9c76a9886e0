import { parse as parseDomain } from 'tldts';
import { METADATA_ADDRESSES } from './classify-address.ts';
import type { CidrRule, EgressRule, PolicyProblem } from './egress-policy.ts';
import { cidr, cidrContains, parseIp, type Cidr } from '../core/ip-address.ts';

/**
 * What a policy may mean but probably does not: it loads (the rule is valid and
 * can be intended), but `cordon egress validate` and `cordon serve` say so, with
 * file and line, like any load problem.
 */

// Link-local ranges: every cloud's metadata, DHCP leftovers and the host's own
// neighbours live here. allow_cidrs never opens a metadata address (the classifier
// refuses), but a range around one says the author did not know that.
const LINK_LOCAL: readonly Cidr[] = [cidr('169.254.0.0/16'), cidr('fe80::/10')];

export function egressPolicyWarnings(file: string, allow: readonly EgressRule[], allowCidrs: readonly CidrRule[]): PolicyProblem[] {
  const warnings: PolicyProblem[] = [];
  for (const rule of allow) {
    if (rule.host.kind !== 'suffix') continue;
    const suffix = publicSuffixKind(rule.host.suffix);
    if (suffix !== null) {
      warnings.push({
        file,
        line: rule.source.line,
        reason: `warning: ${rule.id} allows "*.${rule.host.suffix}", a wildcard directly under a public suffix (${suffix}): it matches every site anyone registers there; name the sites you need`,
      });
    }
  }
  for (const c of allowCidrs) {
    const linkLocal = LINK_LOCAL.filter((r) => overlaps(r, c.cidr)).map((r) => r.text);
    const metadata = [...METADATA_ADDRESSES].filter((a) => {
      const ip = parseIp(a);
      return ip !== null && cidrContains(c.cidr, ip);
    });
    if (linkLocal.length === 0 && metadata.length === 0) continue;
    const what = [
      ...(linkLocal.length > 0 ? [`the link-local range ${linkLocal.join(', ')}`] : []),
      ...(metadata.length > 0 ? [`cloud metadata address${metadata.length > 1 ? 'es' : ''} ${metadata.join(', ')} (which stay closed whatever the policy says)`] : []),
    ].join(' and ');
    warnings.push({ file, line: c.source.line, reason: `warning: ${c.id} "${c.cidr.text}" includes ${what}; open only the addresses your service uses` });
  }
  return warnings;
}

/**
 * "ICANN" or "private" when `suffix` is itself on the public-suffix list (`co.uk`;
 * `github.io`, where anyone gets a subdomain), else null. An unknown top-level
 * name (`test`, `internal`) is not on the list and is not warned about.
 */
function publicSuffixKind(suffix: string): string | null {
  const parsed = parseDomain(suffix, { allowPrivateDomains: true });
  if (parsed.publicSuffix !== suffix) return null;
  if (parsed.isPrivate === true) return 'a private suffix on the public-suffix list';
  if (parsed.isIcann === true) return 'an ICANN suffix';
  return null;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  return cidrContains(a, { family: b.family, bytes: b.bytes }) || cidrContains(b, { family: a.family, bytes: a.bytes });
}
