import { decodeJwt } from 'jose';
import type { AuditRecord, AuditSink } from '../audit/audit-sink.ts';
import type { RepeatAggregator } from '../audit/repeat-aggregator.ts';
import { toCordonError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import { userKey } from '../core/principal.ts';
import { GRANT_TOKEN_EXCHANGE, type TokenService } from '../identity/token-service.ts';
import { appendRecord } from './stages/record.ts';

const GRANTS = new Set([GRANT_TOKEN_EXCHANGE, 'client_credentials']);

/**
 * The token endpoint's events as audit records: every token issued or exchanged is one
 * record naming the agent, the user it may act for and the new token's id (`token.issuedId`), written before
 * the token is handed out. Refusals (a bad assertion, a replayed one) come from anyone who
 * can reach the endpoint, so they are counted per client address and reason like failed
 * authentication, not written one by one.
 */
export function recordingTokenService(inner: TokenService, deps: { audit: AuditSink; repeats: RepeatAggregator; logger: Logger }): TokenService {
  return {
    async issue(params, context = {}) {
      const started = performance.now();
      // Only a known grant is named: the field is the client's, and a record holds no free text from it.
      const grant = typeof params.grant_type === 'string' && GRANTS.has(params.grant_type) ? params.grant_type : null;
      const base = (): Omit<AuditRecord, 'agent' | 'user' | 'tokenId' | 'outcome' | 'token'> => ({
        ts: new Date().toISOString(),
        kind: 'token',
        id: newId('aud'),
        requestId: context.requestId ?? null,
        tool: null,
        action: 'token.issue',
        resource: null,
        sandbox: null,
        decision: null,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        inputSha256: null,
        ...(context.source === undefined ? {} : { source: context.source }),
      });
      let response;
      try {
        response = await inner.issue(params, context);
      } catch (err) {
        const e = toCordonError(err);
        const reason = typeof e.details.reason === 'string' ? e.details.reason : '';
        const event = reason === 'replayed' ? 'replayed' : 'refused';
        const outcome = reason === '' ? e.code : `${e.code}:${reason}`;
        deps.repeats.append(['token', context.source ?? '', outcome].join('\u0000'), { ...base(), agent: null, user: null, tokenId: null, outcome, token: { event, grant } });
        throw e;
      }
      // The token was signed here a moment ago: its claims are ours to read, not a client's to trust.
      const claims = decodeJwt(response.access_token);
      const exchanged = grant === GRANT_TOKEN_EXCHANGE;
      const agent = typeof claims.client_id === 'string' ? claims.client_id : null;
      const user = exchanged && typeof claims.user_iss === 'string' && typeof claims.sub === 'string' ? userKey({ issuer: claims.user_iss, subject: claims.sub }) : null;
      const event = exchanged ? 'exchanged' : 'issued';
      await appendRecord(deps.audit, deps.logger, {
        ...base(),
        agent,
        user,
        // The request carried no bearer token; the new token's id goes under `token`.
        tokenId: null,
        outcome: event,
        token: { event, grant, ...(typeof claims.jti === 'string' ? { issuedId: claims.jti } : {}), ...(response.scope === undefined ? {} : { scope: response.scope }), expiresInSec: response.expires_in },
      });
      return response;
    },
  };
}
