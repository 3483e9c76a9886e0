import { request } from 'undici';
import type { TestIssuer } from './oidc-issuer.ts';
import type { TestAgent } from './test-config.ts';
import { assertionToken } from './tokens.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/**
 * `Bearer …` for `agent` acting for `user`: RFC 8693 token exchange through the server's real token
 * endpoint. The user token names the agent in `may_act`, as an identity provider would for an agent
 * the user delegated to.
 */
export async function delegatedBearer(serverUrl: string, idp: TestIssuer, agent: TestAgent, user: string): Promise<string> {
  const res = await request(`${serverUrl}/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: EXCHANGE,
      subject_token: await idp.token(user, { may_act: { sub: agent.id } }),
      subject_token_type: JWT_TYPE,
      actor_token: assertionToken(agent.privateKey, agent.id),
      actor_token_type: JWT_TYPE,
    }).toString(),
  });
  const json = (await res.body.json()) as { access_token?: string };
  if (typeof json.access_token !== 'string') throw new Error(`token exchange failed: ${JSON.stringify(json)}`);
  return `Bearer ${json.access_token}`;
}
