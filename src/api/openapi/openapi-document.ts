import { ERROR_CODES, type ErrorCode } from '../../core/errors.ts';
import type { JsonSchema } from '../../tools/tool.ts';
import type { RouteDoc } from '../api-route.ts';
import { errorSchema } from '../schemas/response-schemas.ts';
import { oauthErrorSchema } from '../schemas/token-schemas.ts';
import type { CatalogRoute } from './route-catalog.ts';

export interface OpenApiBuild {
  readonly document: Readonly<Record<string, unknown>>;
  /** `METHOD url` of routes that neither carry a document nor say they are excluded. */
  readonly undocumented: readonly string[];
}

/** Fastify's `/v1/sandboxes/:id` as OpenAPI's `/v1/sandboxes/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function isDoc(openapi: CatalogRoute['openapi']): openapi is RouteDoc {
  return openapi !== undefined && !('exclude' in openapi);
}

const json = (schema: JsonSchema) => ({ 'application/json': { schema } });

/** The refusals of one status: Cordon's error object, its code narrowed to those the route gives. */
function errorResponses(doc: RouteDoc): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of doc.errors) byStatus.set(ERROR_CODES[code].httpStatus, [...(byStatus.get(ERROR_CODES[code].httpStatus) ?? []), code]);
  const out: Record<string, unknown> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const description = codes.map((c) => `${c}: ${ERROR_CODES[c].doc}`).join('\n');
    if (doc.oauthErrors === true) {
      out[status] = { description, content: json({ $ref: '#/components/schemas/OAuthError' }) };
      continue;
    }
    const narrowed = { allOf: [{ $ref: '#/components/schemas/Error' }, { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } }] };
    out[status] = { description, content: json(narrowed), ...(status === 401 ? { headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'Bearer' } } } : {}) };
  }
  return out;
}

function operation(doc: RouteDoc): Record<string, unknown> {
  const parameters = [
    ...Object.entries(doc.params ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
    ...Object.entries((doc.query?.properties ?? {}) as Record<string, JsonSchema>).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(doc.responses)) responses[status] = { description: r.description, ...(r.schema === undefined ? {} : { content: json(r.schema) }) };
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    security: doc.auth ? [{ bearer: [] }] : [],
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(doc.body === undefined ? {} : { requestBody: { required: doc.body.required, content: { [doc.body.contentType]: { schema: doc.body.schema } } } }),
    responses: { ...responses, ...errorResponses(doc) },
  };
}

/**
 * The OpenAPI 3.1 document of the routes a server registered. A GET's HEAD is implied; a
 * route that says nothing (no `config.openapi`) is left out and named in `undocumented`.
 */
export function buildOpenApiDocument(routes: readonly CatalogRoute[], version: string): OpenApiBuild {
  const paths: Record<string, Record<string, unknown>> = {};
  const undocumented: string[] = [];
  const documentedGets = new Set(routes.filter((r) => r.method === 'GET' && isDoc(r.openapi)).map((r) => r.url));
  for (const route of routes) {
    if (route.openapi === undefined) {
      if (!(route.method === 'HEAD' && documentedGets.has(route.url))) undocumented.push(`${route.method} ${route.url}`);
      continue;
    }
    if (!isDoc(route.openapi) || route.method === 'HEAD') continue;
    const path = (paths[openApiPath(route.url)] ??= {});
    path[route.method.toLowerCase()] = operation(route.openapi);
  }
  const document = {
    openapi: '3.1.0',
    info: {
      title: 'Cordon runner API',
      version,
      description:
        'Tool calls for agents, each authenticated, authorized, sandboxed and audited. Every refusal has the shape of components.schemas.Error; a method a path does not serve answers 405 METHOD_NOT_ALLOWED with Allow, an unknown path 404 NOT_FOUND, and any route 503 UNAVAILABLE while the server closes.',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /v1/token.' } },
      schemas: { Error: errorSchema, OAuthError: oauthErrorSchema },
    },
  };
  return { document, undocumented };
}
