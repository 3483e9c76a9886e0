import { CordonError } from '../core/errors.ts';
import { decide, type EgressVerdict } from './egress-decider.ts';
import type { EgressPolicy } from './egress-policy.ts';
import { ASSUMED_PUBLIC_ADDRESS, createStaticResolver } from './static-resolver.ts';

/** The input of `cordon egress check`. Exactly one of url / connect. */
export interface CheckEgressInput {
  readonly policy: EgressPolicy;
  readonly url?: string;
  readonly connect?: string;
  readonly method?: string;
  /** From `--resolve NAME=IP[,IP...]` (see parseResolveOption). */
  readonly resolve?: Readonly<Record<string, readonly string[]>>;
}

/** What `cordon egress check --json` prints. */
export interface CheckEgressResult {
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly rule: string | null;
  readonly address: string | null;
}

/**
 * Decides without connecting or looking anything up: names given in `resolve`
 * answer with those addresses, every other name with ASSUMED_PUBLIC_ADDRESS.
 * Throws USAGE on bad arguments (the CLI exits 2); otherwise always returns.
 */
export async function checkEgress(input: CheckEgressInput): Promise<CheckEgressResult> {
  const verdict = await checkEgressVerdict(input);
  return {
    decision: verdict.decision.result === 'allow' ? 'allow' : 'deny',
    reason: verdict.decision.reason,
    rule: verdict.decision.ruleId,
    address: verdict.address,
  };
}

/** The full verdict behind checkEgress (for `egress test` and callers wanting more detail). */
export async function checkEgressVerdict(input: CheckEgressInput): Promise<EgressVerdict> {
  const hasUrl = input.url !== undefined;
  const hasConnect = input.connect !== undefined;
  if (hasUrl === hasConnect) throw new CordonError('USAGE', 'give exactly one of --url URL or --connect HOST:PORT');
  if (hasConnect && input.method !== undefined) throw new CordonError('USAGE', '--method applies to --url only; a CONNECT tunnel has no visible method');
  const resolver = createStaticResolver(input.resolve ?? {}, { fallback: [ASSUMED_PUBLIC_ADDRESS] });
  const request = hasConnect ? { connect: input.connect ?? '' } : { url: input.url ?? '', method: input.method ?? 'GET' };
  return decide(input.policy, request, resolver);
}
