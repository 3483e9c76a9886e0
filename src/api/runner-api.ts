import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { CordonError, type ErrorCode } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { CORDON_VERSION } from '../core/version.ts';
import type { Logger } from '../core/logger.ts';
import type { Principal } from '../core/principal.ts';
import type { ReceiptReader } from '../runner/receipts.ts';
import type { Runner } from '../runner/runner.ts';
import type { SessionSandboxInfo } from '../sandbox/index.ts';
import { frameworkErrorHandler, renderError } from './error-renderer.ts';
import { apiRoute, registerApiRoutes, registerMethodNotAllowed, type ApiRoute } from './api-route.ts';
import { buildOpenApiDocument } from './openapi/openapi-document.ts';
import { createRouteCatalog } from './openapi/route-catalog.ts';
import { invocationBody, invocationId, invocationQuery, receiptInvocationId, sandboxBody, sandboxId } from './schemas/request-schemas.ts';
import { healthSchema, invocationHeldSchema, invocationResultSchema, invocationStateSchema, receiptSchema, sandboxListSchema, sandboxSchema, toolListSchema } from './schemas/response-schemas.ts';
import type { TokenService } from '../identity/token-service.ts';
import { registerTokenEndpoint } from './token-endpoint.ts';
import { registerMcpRoutes } from './mcp/mcp-route.ts';
import { clientGone } from './client-gone.ts';
import { registerMetricsRoute, type MetricsEndpoint } from './metrics-route.ts';
import { discardUnreadBody, type UnreadBodyLimits } from './unread-body.ts';

export interface RunnerApiOptions {
  runner: Runner;
  /** Serves POST /v1/token; without it the route answers 404. */
  tokens?: TokenService;
  logger: Logger;
  bodyLimitBytes: number;
  /** Longest a request may take end to end; above the longest tool timeout. */
  requestTimeoutMs: number;
  /** How much of an unread body is discarded after an early answer (server.unreadBodyDiscard*). */
  unreadBody: UnreadBodyLimits;
  /** Serves GET /v1/invocations/:id/receipt; without it the route answers 404. */
  receipts?: ReceiptReader;
  /** The longest `GET /v1/invocations/:id?waitMs=` may wait (approvals.maxWaitMs). */
  maxWaitMs: number;
  /** Serves GET /metrics (metrics.enabled); without it the route answers 404. */
  metrics?: MetricsEndpoint;
  /** server.publicUrl: the base URL the MCP metadata names (default: the listener's own address). */
  publicUrl?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

function renderSandbox(s: SessionSandboxInfo) {
  const i = s.identity;
  return {
    id: s.id,
    profile: s.profile,
    identity: { uri: i.uri, backend: i.backend, egressPolicy: i.egressPolicy, agent: i.agent, user: i.user },
    createdAt: new Date(i.createdAt).toISOString(),
    expiresAt: new Date(s.expiresAt).toISOString(),
  };
}

/** Refusals any authenticated route can answer with. */
const AUTHENTICATED = ['AUTH_MISSING_TOKEN', 'AUTH_INVALID_TOKEN', 'RATE_LIMITED', 'AUDIT_UNAVAILABLE', 'UNAVAILABLE', 'INTERNAL'] as const satisfies readonly ErrorCode[];
/** …and those with a JSON body. */
const WITH_BODY = [...AUTHENTICATED, 'INPUT_INVALID', 'REQUEST_MALFORMED', 'REQUEST_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const satisfies readonly ErrorCode[];
/** What running a tool can be refused with (the tool's own failure is a 200 with its status). */
const TOOL_CALL = [
  'TOOL_NOT_FOUND', 'POLICY_DENIED', 'APPROVAL_REQUIRED', 'SANDBOX_NOT_FOUND', 'SANDBOX_UNAVAILABLE', 'SANDBOX_FAILED',
  'FS_INVALID_PATH', 'FS_OUTSIDE_WORKSPACE', 'FS_NOT_FOUND', 'FS_EXISTS', 'FS_NOT_A_FILE', 'FS_NOT_A_DIRECTORY', 'FS_TOO_LARGE', 'FS_EDIT_NO_MATCH', 'FS_EDIT_AMBIGUOUS', 'FS_EDIT_CONFLICT',
  'BROWSE_CONTENT_UNSUPPORTED', 'EGRESS_DENIED', 'EGRESS_REQUEST_INVALID', 'EGRESS_RESOLUTION_FAILED', 'EGRESS_UPSTREAM_FAILED', 'EGRESS_UPSTREAM_TIMEOUT', 'EGRESS_LIMITED',
] as const satisfies readonly ErrorCode[];

/**
 * The runner API: GET /healthz, GET /v1/tools, POST /v1/invocations, GET /v1/invocations/:id,
 * sandboxes, receipts, the token endpoint, GET /openapi.json and MCP (/mcp), all from one route table.
 */
export function createRunnerApi(options: RunnerApiOptions): FastifyInstance {
  const { runner, logger } = options;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request would cost more than an isolate run; the audit log has every call.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    genReqId: () => newId('req'),
    // A duplicated or poisoned JSON key is refused, never merged into an object.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 100 },
    frameworkErrors: frameworkErrorHandler({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }),
  });

  // Every route registered from here on, in this scope or a child, is in the catalog /openapi.json is built from.
  const catalog = createRouteCatalog(app);

  // JSON only: any other body type, or a body without a content type, is refused with 415
  // instead of reaching a handler as a string. (The token endpoint has its own form parser.)
  app.removeContentTypeParser(['text/plain']);

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    if (!request.raw.complete) {
      // Answered before the body was read. Fastify asks Node to close after a body error
      // ("connection: close"), which resets a client still writing and loses this answer;
      // instead the connection stays open while the rest of the body is discarded, bounded.
      reply.removeHeader('connection');
      discardUnreadBody(request.raw, reply.raw, options.unreadBody);
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const rendered = renderError(err, request.id);
    if (rendered.internal) logger.error({ err, requestId: request.id }, 'request failed');
    void reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const rendered = renderError(new CordonError('NOT_FOUND', `no route ${request.method} ${request.url.slice(0, 200)}`), request.id);
    void reply.code(rendered.status).send(rendered.body);
  });

  // Closing answers open long-polls with the state as it is, instead of holding close for maxWaitMs.
  const closing = new AbortController();
  app.addHook('preClose', async () => {
    closing.abort();
  });

  // Authentication runs before the body is read: an anonymous caller cannot make us parse 1 MiB.
  const requireAgent = async (request: FastifyRequest) => {
    request.principal = await runner.authenticate(request.headers.authorization, request.id, request.ip);
  };

  const waitQuery = invocationQuery(options.maxWaitMs);
  const routes: ApiRoute[] = [
    apiRoute({
      method: 'GET',
      url: '/healthz',
      doc: { operationId: 'health', summary: 'Readiness, version and the policy set in force', auth: false, responses: { 200: { description: 'Ready.', schema: healthSchema } }, errors: ['UNAVAILABLE'] },
      // Answered only once the server listens (after start-up) and 503 while it closes: reachable means ready.
      handler: async () => ({ status: 'ok', ready: true, version: CORDON_VERSION, policySet: runner.policyVersion(), ...runner.stats() }),
    }),
    apiRoute({
      method: 'GET',
      url: '/v1/tools',
      doc: { operationId: 'listTools', summary: 'The tools, with their input and output JSON Schemas', auth: true, responses: { 200: { description: 'Every registered tool.', schema: toolListSchema } }, errors: [...AUTHENTICATED] },
      handler: async () => ({ tools: runner.listTools() }),
    }),
    apiRoute({
      method: 'POST',
      url: '/v1/invocations',
      body: { part: invocationBody, required: true },
      doc: {
        operationId: 'invoke',
        summary: 'Call a tool',
        description: '200: the tool ran (its own failure is a status, not an error). 202: policy holds the call for a human; poll GET /v1/invocations/{id}.',
        auth: true,
        responses: { 200: { description: 'The tool ran.', schema: invocationResultSchema }, 202: { description: 'Held for approval; it has not run.', schema: invocationHeldSchema } },
        errors: [...WITH_BODY, ...TOOL_CALL],
      },
      handler: async (request, reply, { body }) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        // A client that closes its connection before the answer has gone away: its call leaves
        // the queue, or is stopped, instead of holding a slot until its timeout.
        const result = await runner.invoke(principal, { ...body, requestId: request.id }, { signal: clientGone(reply) });
        if (result.approval !== undefined) {
          // Held for a human: accepted, not run. The agent polls GET /v1/invocations/:id.
          void reply.code(202);
          return { id: result.id, status: 'pending_approval', approval: result.approval };
        }
        return { id: result.id, tool: result.tool, status: result.status, output: result.output, durationMs: result.durationMs };
      },
    }),
    apiRoute({
      method: 'GET',
      url: '/v1/invocations/:id',
      params: { id: invocationId },
      query: waitQuery,
      doc: {
        operationId: 'readInvocation',
        summary: 'A held call: still pending, running, or its result once approved and run',
        auth: true,
        responses: { 200: { description: 'The call\'s state, or its result (as POST /v1/invocations answers).', schema: invocationStateSchema } },
        errors: [...AUTHENTICATED, 'INPUT_INVALID', 'INVOCATION_NOT_FOUND', 'APPROVAL_DENIED', 'APPROVAL_EXPIRED', 'APPROVAL_RUN_INTERRUPTED', ...TOOL_CALL],
      },
      handler: async (request, reply, { params, query }) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        // A long-poll whose client left stops waiting at once; so does every one when the server closes.
        return runner.readInvocation(principal, params.id as string, { waitMs: query.waitMs ?? 0, signal: AbortSignal.any([clientGone(reply), closing.signal]) });
      },
    }),
    apiRoute({
      method: 'POST',
      url: '/v1/sandboxes',
      body: { part: sandboxBody, required: false },
      doc: {
        operationId: 'createSandbox',
        summary: 'A session sandbox that lives across calls',
        auth: true,
        responses: { 201: { description: 'Created.', schema: sandboxSchema } },
        errors: [...WITH_BODY, 'POLICY_DENIED', 'APPROVAL_REQUIRED', 'SANDBOX_UNAVAILABLE', 'SANDBOX_FAILED'],
      },
      handler: async (request, reply, { body }) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        const created = await runner.createSandbox(principal, { ...body, requestId: request.id });
        void reply.code(201);
        return renderSandbox(created);
      },
    }),
    apiRoute({
      method: 'GET',
      url: '/v1/sandboxes',
      doc: { operationId: 'listSandboxes', summary: 'The caller\'s live session sandboxes', auth: true, responses: { 200: { description: 'Live sandboxes.', schema: sandboxListSchema } }, errors: [...AUTHENTICATED] },
      handler: async (request) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        return { sandboxes: runner.listSandboxes(principal).map(renderSandbox) };
      },
    }),
    apiRoute({
      method: 'DELETE',
      url: '/v1/sandboxes/:id',
      params: { id: sandboxId },
      doc: { operationId: 'deleteSandbox', summary: 'End a session sandbox', auth: true, responses: { 204: { description: 'Deleted.' } }, errors: [...AUTHENTICATED, 'SANDBOX_NOT_FOUND'] },
      handler: async (request, reply, { params }) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        await runner.deleteSandbox(principal, params.id as string, request.id);
        void reply.code(204);
        return null;
      },
    }),
  ];

  // Receipts: GET /v1/invocations/:id/receipt, the caller's own invocations only (receipts.ts).
  const receipts = options.receipts;
  if (receipts !== undefined) {
    routes.push(
      apiRoute({
        method: 'GET',
        url: '/v1/invocations/:id/receipt',
        params: { id: receiptInvocationId },
        doc: { operationId: 'readReceipt', summary: 'The call\'s audit record with a signed inclusion proof', auth: true, responses: { 200: { description: 'The receipt.', schema: receiptSchema } }, errors: [...AUTHENTICATED, 'NOT_FOUND'] },
        handler: async (request, _reply, { params }) => {
          const principal = request.principal;
          if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
          return receipts.read(principal, params.id as string);
        },
      }),
    );
  }

  // The document of this server's routes, built once on first request (every route is in by then).
  let openapi: Readonly<Record<string, unknown>> | undefined;
  routes.push(
    apiRoute({
      method: 'GET',
      url: '/openapi.json',
      doc: { operationId: 'openapi', summary: 'This document (OpenAPI 3.1)', auth: false, responses: { 200: { description: 'The runner API.', schema: { type: 'object' } } }, errors: ['UNAVAILABLE'] },
      handler: async () => (openapi ??= buildOpenApiDocument(catalog.routes(), CORDON_VERSION).document),
    }),
  );

  const byUrl = new Map<string, string[]>();
  if (options.tokens !== undefined) {
    registerTokenEndpoint(app, options.tokens, logger);
    byUrl.set('/v1/token', ['POST']);
  }
  // GET /metrics: registered on its own (metrics-route.ts), outside the route table above.
  if (options.metrics !== undefined) {
    registerMetricsRoute(app, options.metrics);
    byUrl.set('/metrics', ['GET', 'HEAD']);
  }

  // MCP (Streamable HTTP at /mcp) and its OAuth discovery documents: src/api/mcp/.
  for (const [url, methods] of registerMcpRoutes(app, { runner, logger, tokenEndpoint: options.tokens !== undefined, ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }) })) byUrl.set(url, methods);

  registerApiRoutes(app, routes, requireAgent);
  for (const route of routes) byUrl.set(route.url, [...(byUrl.get(route.url) ?? []), route.method, ...(route.method === 'GET' ? ['HEAD'] : [])]);
  registerMethodNotAllowed(app, byUrl);
  return app;
}
