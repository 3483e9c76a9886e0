import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CordonError, isCordonError, type ErrorCode } from '../core/errors.ts';

export interface RenderedError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { error: { code: ErrorCode; message: string; details: Record<string, unknown>; requestId: string } };
}

/** What a client of the JSON API must send; said by every 415 there. */
export const JSON_BODY_HINT = 'send the body as JSON with the header content-type: application/json';

/** Fastify's own refusals (body parsing, limits) mapped to Cordon codes. */
const FRAMEWORK_CODES: Readonly<Record<string, { code: ErrorCode; message: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'REQUEST_TOO_LARGE', message: 'request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: JSON_BODY_HINT },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'REQUEST_MALFORMED', message: 'request body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'REQUEST_MALFORMED', message: 'request body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'REQUEST_MALFORMED', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: JSON_BODY_HINT },
  FST_ERR_CTP_INVALID_CONTENT_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: JSON_BODY_HINT },
  // Refused by the router before any route: never echo the path back (it is the attacker's).
  FST_ERR_MAX_PARAM_LENGTH: { code: 'REQUEST_MALFORMED', message: 'a part of the URL path is too long' },
  FST_ERR_BAD_URL: { code: 'REQUEST_MALFORMED', message: 'the URL path is not valid (bad percent-encoding)' },
};

/**
 * The one place errors become responses: `{error: {code, message, details, requestId}}`.
 * Unknown errors become INTERNAL with a generic message; their details stay in the log.
 */
export function renderError(err: unknown, requestId: string): RenderedError & { internal: boolean } {
  let e: CordonError;
  let internal = false;
  if (isCordonError(err)) {
    e = err;
  } else {
    const fw = err as { code?: unknown; statusCode?: unknown; name?: unknown };
    const mapped = typeof fw.code === 'string' ? FRAMEWORK_CODES[fw.code] : undefined;
    if (mapped !== undefined) {
      e = new CordonError(mapped.code, mapped.message);
    } else if (fw.name === 'SyntaxError' && fw.statusCode === 400) {
      e = new CordonError('REQUEST_MALFORMED', 'request body is not valid JSON');
    } else if (typeof fw.statusCode === 'number' && fw.statusCode >= 400 && fw.statusCode < 500) {
      // Other client errors from the framework (e.g. prototype-poisoning keys in JSON).
      e = new CordonError('REQUEST_MALFORMED', 'the request was rejected as malformed');
    } else {
      e = new CordonError('INTERNAL', 'internal error');
      internal = true;
    }
  }
  const headers: Record<string, string> = {};
  if (e.code === 'AUTH_MISSING_TOKEN' || e.code === 'AUTH_INVALID_TOKEN') headers['www-authenticate'] = 'Bearer';
  if (e.code === 'RATE_LIMITED') headers['retry-after'] = String(e.details.retryAfterSec ?? 1);
  if (e.code === 'METHOD_NOT_ALLOWED' && typeof e.details.allow === 'string') headers.allow = e.details.allow;
  if (e.code === 'INTERNAL') internal = true;
  return {
    status: e.httpStatus,
    headers,
    internal,
    body: { error: { code: e.code, message: e.code === 'INTERNAL' ? 'internal error' : e.message, details: e.code === 'INTERNAL' ? {} : e.details, requestId } },
  };
}

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route (a path segment over
 * maxParamLength, a bad percent-encoding) answered in Cordon's shape like every other error,
 * instead of Fastify's own body that echoes the path. No onSend hook runs for these answers,
 * so the server's own headers (`always`) are set here.
 */
export function frameworkErrorHandler(always: Readonly<Record<string, string>>) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const rendered = renderError(error, request.id);
    void reply.code(rendered.status).headers({ ...always, 'x-request-id': request.id, ...rendered.headers }).send(rendered.body);
  };
}
