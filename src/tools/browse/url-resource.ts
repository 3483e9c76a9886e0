import { CordonError } from '../../core/errors.ts';
import { parseEgressTarget, targetUrl, type EgressTarget } from '../../egress/index.ts';
import type { ResourceContext, ToolResource } from '../tool.ts';

/** Longest URL a browse tool takes. */
export const MAX_URL_CHARS = 8192;

/** The egress layer's canonical target for a URL an agent names; INPUT_INVALID saying why when there is none. */
export function urlTarget(tool: string, url: string): EgressTarget {
  const parsed = parseEgressTarget({ url, method: 'GET' });
  if (!parsed.ok) throw new CordonError('INPUT_INVALID', `${tool}: input/url ${parsed.reason}`, { details: { tool, field: '/url', reason: parsed.reason } });
  return parsed.target;
}

/**
 * A URL as the policy engine sees it, built from the egress layer's canonical target —
 * the same host, port and path the guard will match and dial (as net.fetch hops are) —
 * so no second parse can disagree with the guard. `trusted` comes from the sandbox's
 * egress policy, never from the agent.
 */
export function urlResource(tool: string, url: string, context: ResourceContext): ToolResource {
  const target = urlTarget(tool, url);
  return {
    type: 'url',
    id: targetUrl(target),
    attributes: { method: 'GET', trusted: context.egressTrusted, scheme: target.scheme, host: target.host, port: target.port, path: target.path ?? '/' },
  };
}
