import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CordonError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { OAUTH_ERRORS, type TokenService } from '../identity/token-service.ts';
import { renderError } from './error-renderer.ts';
import type { OpenApiRouteConfig, RouteDoc } from './api-route.ts';
import { parseFormBody } from './form-body.ts';
import { tokenRequestSchema, tokenResponseSchema } from './schemas/token-schemas.ts';

const FORM_ONLY = 'send the token request as a form: content-type: application/x-www-form-urlencoded (RFC 6749 §3.2)';

const TOKEN_DOC: RouteDoc = {
  operationId: 'token',
  summary: 'An access token for an agent (client_credentials with a signed assertion), or for an agent acting for a user (token-exchange)',
  auth: false,
  body: { schema: tokenRequestSchema, required: true, contentType: 'application/x-www-form-urlencoded' },
  responses: { 200: { description: 'The access token (RFC 6749 §5.1, RFC 8693 §2.2.1).', schema: tokenResponseSchema } },
  errors: ['TOKEN_REQUEST_INVALID', 'TOKEN_GRANT_UNSUPPORTED', 'TOKEN_SCOPE_INVALID', 'TOKEN_TARGET_INVALID', 'REQUEST_MALFORMED', 'TOKEN_CLIENT_INVALID', 'REQUEST_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'AUTH_INVALID_TOKEN', 'AUDIT_UNAVAILABLE', 'UNAVAILABLE', 'INTERNAL'],
  oauthErrors: true,
};

/**
 * The token endpoint speaks OAuth (RFC 6749 §5.2): `{error, error_description}`,
 * which OAuth clients parse. Cordon's own error object rides along under `cordon`.
 */
export function renderOAuthError(err: unknown, requestId: string) {
  // The framework's 415 says "send JSON", which is wrong here: this route takes forms only.
  const fw = err as { code?: unknown };
  const rendered = renderError(fw.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? new CordonError('UNSUPPORTED_MEDIA_TYPE', FORM_ONLY) : err, requestId);
  const code = rendered.body.error.code;
  const oauth = OAUTH_ERRORS[code] ?? (rendered.status >= 500 ? 'server_error' : 'invalid_request');
  const headers: Record<string, string> = { ...rendered.headers, pragma: 'no-cache' };
  delete headers['www-authenticate'];
  if (oauth === 'invalid_client') headers['www-authenticate'] = 'Bearer error="invalid_client"';
  return {
    status: rendered.status,
    internal: rendered.internal,
    headers,
    body: { error: oauth, error_description: rendered.body.error.message, cordon: rendered.body.error },
  };
}

/**
 * POST /v1/token in its own encapsulated scope, so its form parser exists for this
 * route only: the JSON API never sees a form (a `curl -d` without a content type
 * gets 415 there, not a confusing field error), and this route takes forms only —
 * RFC 6749 §3.2 asks for a form, and JSON.parse would silently keep the last of a
 * repeated parameter, which §3.2 forbids.
 */
export function registerTokenEndpoint(app: FastifyInstance, tokens: TokenService, logger: Logger): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body, done) => {
      try {
        done(null, Object.fromEntries(parseFormBody(body as Buffer)));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    scope.route({
      method: 'POST',
      url: '/v1/token',
      config: { openapi: TOKEN_DOC } satisfies OpenApiRouteConfig,
      // The credentials are in the body (RFC 6749 §4.4, RFC 8693): no bearer token here.
      errorHandler: (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
        const rendered = renderOAuthError(err, request.id);
        if (rendered.internal) logger.error({ err, requestId: request.id }, 'token request failed');
        void reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
      },
      handler: async (request, reply) => {
        const body = request.body;
        // No body at all (no content type, nothing sent) never reaches the parser.
        if (typeof body !== 'object' || body === null) throw new CordonError('UNSUPPORTED_MEDIA_TYPE', FORM_ONLY);
        void reply.header('pragma', 'no-cache');
        return tokens.issue(body as Record<string, unknown>, { source: request.ip, requestId: request.id });
      },
    });
  });
}
