import { ASSERTION_TYPE_JWT_BEARER, GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE } from '../../identity/token-service.ts';
import type { JsonSchema } from '../../tools/tool.ts';
import { errorSchema } from './response-schemas.ts';

const str = { type: 'string' } as const;

/**
 * POST /v1/token's form, for /openapi.json. The token service checks these parameters itself
 * and answers in OAuth's error shape (RFC 6749 §5.2), so this schema describes rather than
 * validates; it stays open because RFC 6749 §3.2 has servers ignore parameters they do not know.
 */
export const tokenRequestSchema: JsonSchema = {
  type: 'object',
  required: ['grant_type'],
  properties: {
    grant_type: { type: 'string', enum: [GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE] },
    client_assertion_type: { type: 'string', const: ASSERTION_TYPE_JWT_BEARER, description: 'client_credentials: the agent authenticates with a JWT it signed (RFC 7523).' },
    client_assertion: { type: 'string', description: 'client_credentials: the agent\'s signed assertion.' },
    client_id: str,
    scope: { type: 'string', description: 'Space-separated scope tokens.' },
    subject_token: { type: 'string', description: 'token-exchange: the user\'s token (RFC 8693).' },
    subject_token_type: str,
    actor_token: { type: 'string', description: 'token-exchange: the agent\'s signed assertion.' },
    actor_token_type: str,
    requested_token_type: str,
    audience: str,
    resource: str,
  },
};

export const tokenResponseSchema: JsonSchema = {
  type: 'object',
  required: ['access_token', 'token_type', 'expires_in'],
  properties: { access_token: str, token_type: { const: 'Bearer' }, expires_in: { type: 'integer' }, issued_token_type: str, scope: str },
};

/** RFC 6749 §5.2, with Cordon's own error object under `cordon`. */
export const oauthErrorSchema: JsonSchema = {
  type: 'object',
  required: ['error', 'error_description', 'cordon'],
  properties: { error: { type: 'string', description: 'The OAuth error code (invalid_request, invalid_client, …).' }, error_description: str, cordon: errorSchema.properties && (errorSchema.properties as Record<string, JsonSchema>).error },
};
