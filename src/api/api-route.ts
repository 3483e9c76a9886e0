import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { CordonError, type ErrorCode } from '../core/errors.ts';
import type { JsonSchema } from '../tools/tool.ts';
import { JSON_BODY_HINT } from './error-renderer.ts';
import type { RequestPart } from './schemas/request-validator.ts';

export const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof ALL_METHODS)[number];

export interface ResponseDoc {
  readonly description: string;
  /** Absent: no body (204). */
  readonly schema?: JsonSchema;
}

/**
 * What /openapi.json says about one route. It rides on the route itself (Fastify's route
 * `config.openapi`), so the document is built from what the server registered: it cannot list
 * a route the server lacks.
 */
export interface RouteDoc {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  /** A bearer token (an access token from POST /v1/token) is required. */
  readonly auth: boolean;
  readonly body?: { readonly schema: JsonSchema; readonly required: boolean; readonly contentType: string };
  readonly query?: JsonSchema;
  readonly params?: Readonly<Record<string, JsonSchema>>;
  readonly responses: Readonly<Record<number, ResponseDoc>>;
  /** The refusals this route can answer with; grouped by HTTP status in the document. */
  readonly errors: readonly ErrorCode[];
  /** Errors are OAuth's shape (the token endpoint), not Cordon's. */
  readonly oauthErrors?: boolean;
}

/**
 * A route's `config`. Every route on the runner listener carries one: its document, or
 * `{exclude: why}` for a route that is not part of the JSON API (MCP, metrics, well-known
 * metadata, the 405 answers). test/api/openapi.test.ts fails for a route with neither.
 */
export interface OpenApiRouteConfig {
  readonly openapi: RouteDoc | { readonly exclude: string };
}

export interface Parsed<Body, Query> {
  readonly body: Body;
  readonly query: Query;
  readonly params: Readonly<Record<string, string>>;
}

/** One row of the runner API's route table: how it is served, checked and documented. */
export interface ApiRoute<Body = unknown, Query = unknown> {
  readonly method: Exclude<HttpMethod, 'HEAD' | 'OPTIONS'>;
  readonly url: string;
  readonly doc: Omit<RouteDoc, 'body' | 'query' | 'params'>;
  readonly body?: { readonly part: RequestPart<Body>; readonly required: boolean };
  readonly query?: RequestPart<Query>;
  readonly params?: Readonly<Record<string, RequestPart<string>>>;
  readonly handler: (request: FastifyRequest, reply: FastifyReply, parsed: Parsed<Body, Query>) => Promise<unknown>;
}

/** A route's document, with the schemas its parts parse with. */
export function routeDoc(route: ApiRoute): RouteDoc {
  const params = route.params === undefined ? undefined : Object.fromEntries(Object.entries(route.params).map(([name, part]) => [name, part.schema]));
  return {
    ...route.doc,
    ...(route.body === undefined ? {} : { body: { schema: route.body.part.schema, required: route.body.required, contentType: 'application/json' } }),
    ...(route.query === undefined ? {} : { query: route.query.schema }),
    ...(params === undefined ? {} : { params }),
  };
}

/**
 * Registers the table: each route's path parameters, query and body are parsed with their
 * schemas (in that order, after authentication) before its handler runs.
 */
export function registerApiRoutes(app: FastifyInstance, routes: readonly ApiRoute[], requireAgent: onRequestHookHandler): void {
  for (const route of routes) {
    const config: OpenApiRouteConfig = { openapi: routeDoc(route) };
    app.route({
      method: route.method,
      url: route.url,
      config,
      ...(route.doc.auth ? { onRequest: requireAgent } : {}),
      handler: async (request, reply) => {
        const rawParams = (request.params ?? {}) as Record<string, unknown>;
        const params: Record<string, string> = {};
        for (const [name, part] of Object.entries(route.params ?? {})) params[name] = part.parse(rawParams[name]);
        const query = route.query === undefined ? undefined : route.query.parse(request.query);
        let body: unknown;
        if (route.body !== undefined) {
          const absent = request.body === undefined || request.body === null;
          // A body-less POST never reaches a parser; say what to send rather than "body must be an object".
          if (route.body.required && request.body === undefined && request.headers['content-type'] === undefined) throw new CordonError('UNSUPPORTED_MEDIA_TYPE', JSON_BODY_HINT);
          body = absent && !route.body.required ? {} : route.body.part.parse(request.body);
        }
        return route.handler(request, reply, { body, query, params });
      },
    });
  }
}

/** 405 with Allow for every other method on each path; not part of the document. */
export function registerMethodNotAllowed(app: FastifyInstance, allowedByUrl: ReadonlyMap<string, readonly string[]>): void {
  const config: OpenApiRouteConfig = { openapi: { exclude: 'the 405 answer for methods a path does not serve' } };
  for (const [url, allowed] of allowedByUrl) {
    const others = ALL_METHODS.filter((m) => !allowed.includes(m));
    app.route({
      method: others as unknown as string[],
      url,
      config,
      handler: async (request) => {
        throw new CordonError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url}; use ${allowed.join(', ')}`, { details: { allow: allowed.join(', ') } });
      },
    });
  }
}

/** A typed row, as the table's element type (the handler's parsed parts are checked here). */
export function apiRoute<Body, Query>(route: ApiRoute<Body, Query>): ApiRoute {
  return route as unknown as ApiRoute;
}
