import { accessTokenOf, errorFromAnswer } from './answers.ts';
import type { AgentCredentials } from './agent-credentials.ts';
import { CordonClientError } from './client-errors.ts';
import type { Transport } from './http-transport.ts';

const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';

/** The user's token, or a function that returns a current one (an IdP session refreshes it). */
export type UserTokenSource = string | (() => string | Promise<string>);

export interface DelegationOptions {
  /** Verbs to ask for (`code.exec fs.read`); the server grants at most the user token's own scope. */
  readonly scope?: readonly string[];
}

export interface Credentials {
  authorization(): Promise<string>;
}

/**
 * Acting for a user: an RFC 8693 token exchange at POST /v1/token, the user's token as
 * subject_token and a fresh single-use agent assertion as actor_token (the server refuses an
 * exchange without the agent proving itself). The Cordon token it returns (sub = user,
 * act.sub = agent) is reused until a quarter of its life is left, then exchanged again;
 * concurrent calls share one exchange.
 */
export function createDelegatedCredentials(transport: Transport, agent: AgentCredentials, userToken: UserTokenSource, options: DelegationOptions & { audience: string; now?: () => number }): Credentials {
  if (typeof userToken !== 'function' && (typeof userToken !== 'string' || userToken.length === 0 || userToken.length > 8192)) {
    throw new CordonClientError('CLIENT_OPTIONS_INVALID', 'onBehalfOf needs the user token (1 to 8192 characters) or a function returning it', { details: { field: 'userToken' } });
  }
  const scope = options.scope;
  if (scope !== undefined && (!Array.isArray(scope) || scope.length === 0 || !scope.every((s) => typeof s === 'string' && /^[a-z][a-z0-9_.:*-]{0,63}$/.test(s)))) {
    throw new CordonClientError('CLIENT_OPTIONS_INVALID', 'scope must be a list of verbs such as ["code.exec", "fs.read"]', { details: { field: 'scope' } });
  }
  const now = options.now ?? Date.now;
  let cached: { authorization: string; renewAtMs: number } | null = null;
  let inFlight: Promise<string> | null = null;

  async function exchange(): Promise<string> {
    const subject = typeof userToken === 'function' ? await userToken() : userToken;
    const form: Record<string, string> = {
      grant_type: GRANT_TOKEN_EXCHANGE,
      subject_token: subject,
      subject_token_type: TOKEN_TYPE_JWT,
      actor_token: await agent.assertion(),
      actor_token_type: TOKEN_TYPE_JWT,
      audience: options.audience,
      ...(scope === undefined ? {} : { scope: scope.join(' ') }),
    };
    const startedMs = now();
    const answer = await transport.request({ method: 'POST', path: '/v1/token', form });
    if (answer.status !== 200) throw errorFromAnswer(answer);
    const { token, expiresInSec } = accessTokenOf(answer);
    // Counted from before the request left, so the server's clock and the round trip never stretch it.
    cached = { authorization: `Bearer ${token}`, renewAtMs: startedMs + expiresInSec * 1000 - Math.min(30_000, (expiresInSec * 1000) / 4) };
    return cached.authorization;
  }

  return {
    // Concurrent calls share one exchange; it is not tied to any one caller's signal, so one
    // caller giving up does not fail the others.
    authorization() {
      if (cached !== null && now() < cached.renewAtMs) return Promise.resolve(cached.authorization);
      inFlight ??= exchange().finally(() => {
        inFlight = null;
      });
      return inFlight;
    },
  };
}
