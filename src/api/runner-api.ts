import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CordonError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { CORDON_VERSION } from '../core/version.ts';
import type { Logger } from '../core/logger.ts';
import type { Principal } from '../core/principal.ts';
import type { ReceiptReader } from '../runner/receipts.ts';
import type { Runner } from '../runner/runner.ts';
import type { SessionSandboxInfo } from '../sandbox/index.ts';
import { frameworkErrorHandler, JSON_BODY_HINT, renderError } from './error-renderer.ts';
import { parseInvocationBody, parseInvocationId, parseInvocationQuery, parseSandboxBody, parseSandboxId } from './invocation-body.ts';
import type { TokenService } from '../identity/token-service.ts';
import { registerTokenEndpoint } from './token-endpoint.ts';
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

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** An AbortSignal that fires when the client closes its connection before the answer is written. */
function clientGone(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  if (reply.raw.destroyed) gone.abort();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  return gone.signal;
}

/** The runner API: GET /healthz, GET /v1/tools, POST /v1/invocations, GET /v1/invocations/:id, sandboxes. */
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

  type Route = {
    method: (typeof ALL_METHODS)[number];
    url: string;
    auth: boolean;
    handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  };
  const routes: Route[] = [
    {
      method: 'GET',
      url: '/healthz',
      auth: false,
      // Answered only once the server listens (after start-up) and 503 while it closes: reachable means ready.
      handler: async () => ({ status: 'ok', ready: true, version: CORDON_VERSION, policySet: runner.policyVersion(), ...runner.stats() }),
    },
    {
      method: 'GET',
      url: '/v1/tools',
      auth: true,
      handler: async () => ({ tools: runner.listTools() }),
    },
    {
      method: 'POST',
      url: '/v1/invocations',
      auth: true,
      handler: async (request, reply) => {
        // A body-less POST never reaches a parser; say what to send rather than "body must be an object".
        if (request.body === undefined && request.headers['content-type'] === undefined) throw new CordonError('UNSUPPORTED_MEDIA_TYPE', JSON_BODY_HINT);
        const body = parseInvocationBody(request.body);
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
    },
    {
      method: 'GET',
      url: '/v1/invocations/:id',
      auth: true,
      handler: async (request, reply) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        const id = parseInvocationId((request.params as { id: string }).id);
        const { waitMs } = parseInvocationQuery(request.query, options.maxWaitMs);
        // A long-poll whose client left stops waiting at once; so does every one when the server closes.
        return runner.readInvocation(principal, id, { waitMs, signal: AbortSignal.any([clientGone(reply), closing.signal]) });
      },
    },
    {
      method: 'POST',
      url: '/v1/sandboxes',
      auth: true,
      handler: async (request, reply) => {
        const body = parseSandboxBody(request.body);
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        const created = await runner.createSandbox(principal, { ...body, requestId: request.id });
        void reply.code(201);
        return renderSandbox(created);
      },
    },
    {
      method: 'GET',
      url: '/v1/sandboxes',
      auth: true,
      handler: async (request) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        return { sandboxes: runner.listSandboxes(principal).map(renderSandbox) };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/sandboxes/:id',
      auth: true,
      handler: async (request, reply) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        await runner.deleteSandbox(principal, parseSandboxId((request.params as { id: string }).id), request.id);
        void reply.code(204);
        return null;
      },
    },
  ];

  // Receipts: GET /v1/invocations/:id/receipt, the caller's own invocations only (receipts.ts).
  const receipts = options.receipts;
  if (receipts !== undefined) {
    routes.push({
      method: 'GET',
      url: '/v1/invocations/:id/receipt',
      auth: true,
      handler: async (request) => {
        const principal = request.principal;
        if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
        return receipts.read(principal, (request.params as { id: string }).id);
      },
    });
  }

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

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      handler: route.handler,
      ...(route.auth ? { onRequest: requireAgent } : {}),
    });
    byUrl.set(route.url, [...(byUrl.get(route.url) ?? []), route.method, ...(route.method === 'GET' ? ['HEAD'] : [])]);
  }
  for (const [url, allowed] of byUrl) {
    const others = ALL_METHODS.filter((m) => !allowed.includes(m));
    app.route({
      method: others as unknown as string[],
      url,
      handler: async (request) => {
        throw new CordonError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url}; use ${allowed.join(', ')}`, { details: { allow: allowed.join(', ') } });
      },
    });
  }
  return app;
}
