import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ApprovalService, ApprovalStatus } from '../../approvals/approval-types.ts';
import { CordonError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { Logger } from '../../core/logger.ts';
import { createOperatorTokenVerifier, type OperatorApprover } from '../../identity/operator-token.ts';
import { DEFAULT_SCRYPT, verifyPassword, type ScryptHash } from '../../identity/password-hash.ts';
import { createReplayCache } from '../../identity/replay-cache.ts';
import { frameworkErrorHandler, renderError } from '../error-renderer.ts';
import { parseDecisionBody } from './decision-body.ts';
import { createLoginLimiter } from './login-limiter.ts';
import { checkHost, createOperatorAuthenticator, originOf, SESSION_COOKIE } from './operator-auth.ts';
import { createOperatorSessions } from './operator-sessions.ts';
import { OPERATOR_SECURITY_HEADERS } from './security-headers.ts';
import { loadStaticAssets } from './static-assets.ts';

export interface OperatorApiOptions {
  approvals: ApprovalService;
  approvers: readonly OperatorApprover[];
  logger: Logger;
  /** The configured listen host: with the loopback names, what the Host header may say. */
  host: string;
  clockToleranceSec?: number;
  sessionTtlMs?: number;
  loginLinkTtlMs?: number;
  /** Password attempts per minute, per approver name and per source address. */
  loginAttemptsPerMinute?: number;
  now?: () => number;
}

/** A signed decision is well under 1 KiB; nothing an operator sends needs more. */
const BODY_LIMIT_BYTES = 16 * 1024;
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'denied', 'expired'];
const APPROVAL_ID = /^[A-Za-z0-9_-]{1,128}$/;

function loginBody(body: unknown, fields: readonly string[]): Record<string, string> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CordonError('INPUT_INVALID', `send a JSON object {${fields.join(', ')}}`, { details: { field: '/' } });
  const obj = body as Record<string, unknown>;
  const extra = Object.keys(obj).find((k) => !fields.includes(k));
  if (extra !== undefined) throw new CordonError('INPUT_INVALID', `unknown field ${JSON.stringify(extra.slice(0, 64))}`, { details: { field: `/${extra.slice(0, 64)}` } });
  const out: Record<string, string> = {};
  for (const f of fields) {
    const v = obj[f];
    if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw new CordonError('INPUT_INVALID', `${f} must be a string of 1 to 1024 characters`, { details: { field: `/${f}` } });
    out[f] = v;
  }
  return out;
}

/**
 * The operator listener: approvals for people, on its own port. Nothing here accepts an agent
 * token, a delegated token or a sandbox's: the CLI signs a one-request operator JWT with the
 * approver's key, and the page holds a session cookie got with a password or a one-time link.
 */
export function createOperatorApi(options: OperatorApiOptions): FastifyInstance {
  const { approvals, logger } = options;
  const now = options.now ?? Date.now;
  const approvers = new Map<string, { approver: OperatorApprover; password: ScryptHash | null }>();
  for (const a of options.approvers) {
    approvers.set(a.name, { approver: a, password: a.password });
  }
  // An unknown name, or an approver without a password, costs one scrypt at the default cost and
  // gets the same answer as a wrong password: the response says nothing about which names exist.
  const decoy: ScryptHash = { ...DEFAULT_SCRYPT, salt: randomBytes(16), hash: randomBytes(32) };
  const sessions = createOperatorSessions({ sessionTtlMs: options.sessionTtlMs ?? 8 * 3_600_000, linkTtlMs: options.loginLinkTtlMs ?? 120_000, maxSessions: 1024, now });
  const limiter = createLoginLimiter({ perMinute: options.loginAttemptsPerMinute ?? 10, burst: options.loginAttemptsPerMinute ?? 10, maxKeys: 10_000, now });
  const verifyToken = createOperatorTokenVerifier({
    approver: (name) => approvers.get(name)?.approver,
    replay: createReplayCache(100_000, () => now() / 1000),
    clockToleranceSec: options.clockToleranceSec ?? 5,
    now,
  });
  const auth = { verifyToken, sessions, isApprover: (name: string) => approvers.has(name) };
  const anyOperator = createOperatorAuthenticator(auth, { token: true, session: true });
  const cliOnly = createOperatorAuthenticator(auth, { token: true, session: false });
  const assets = loadStaticAssets();

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: 60_000,
    genReqId: () => newId('req'),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 128 },
    frameworkErrors: frameworkErrorHandler(OPERATOR_SECURITY_HEADERS),
  });
  app.removeContentTypeParser(['text/plain']);

  app.addHook('onRequest', async (request) => checkHost(request, options.host));
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.headers(OPERATOR_SECURITY_HEADERS);
  });
  app.setErrorHandler((err, request, reply) => {
    const rendered = renderError(err, request.id);
    if (rendered.internal) logger.error({ err, requestId: request.id }, 'operator request failed');
    void reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const rendered = renderError(new CordonError('NOT_FOUND', `no route ${request.method} ${request.url.slice(0, 200)}`), request.id);
    void reply.code(rendered.status).send(rendered.body);
  });

  const setSessionCookie = (request: FastifyRequest, reply: FastifyReply, id: string, maxAgeSec: number) => {
    const secure = request.protocol === 'https' ? '; Secure' : '';
    void reply.header('set-cookie', `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSec}${secure}`);
  };
  const startSession = (request: FastifyRequest, reply: FastifyReply, approver: string) => {
    const { id, session } = sessions.create(approver);
    setSessionCookie(request, reply, id, Math.floor((session.expiresAtMs - now()) / 1000));
    logger.info({ approver, requestId: request.id }, 'operator logged in');
    return { approver, csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAtMs).toISOString() };
  };
  const operatorOf = (request: FastifyRequest) => {
    if (request.operator === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
    return request.operator;
  };
  const approvalId = (request: FastifyRequest): string => {
    const id = (request.params as { id: string }).id;
    if (!APPROVAL_ID.test(id)) throw new CordonError('INPUT_INVALID', 'approval ids are 1 to 128 letters, digits, _ or -', { details: { field: '/id' } });
    return id;
  };

  type Route = {
    method: (typeof ALL_METHODS)[number];
    url: string;
    auth?: (request: FastifyRequest) => Promise<void>;
    handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  };
  const page = (name: string) => async (_: FastifyRequest, reply: FastifyReply) => {
    const asset = assets.get(name);
    if (asset === undefined) throw new CordonError('NOT_FOUND', 'no such file');
    return reply.type(asset.contentType).send(asset.body);
  };
  const routes: Route[] = [
    { method: 'GET', url: '/', handler: async (_, reply) => reply.redirect('/operator/', 303) },
    { method: 'GET', url: '/operator/', handler: page('approvals.html') },
    // Browsers ask for it on every page; an empty answer keeps a 404 out of the operator's console.
    { method: 'GET', url: '/favicon.ico', handler: async (_, reply) => reply.code(204).send() },
    {
      method: 'GET',
      url: '/operator/static/:name',
      handler: async (request, reply) => page((request.params as { name: string }).name)(request, reply),
    },
    {
      method: 'POST',
      url: '/operator/v1/login',
      handler: async (request, reply) => {
        const { name, password } = loginBody(request.body, ['name', 'password']) as { name: string; password: string };
        const allowed = limiter.take(name, request.ip);
        if (!allowed.ok) throw new CordonError('RATE_LIMITED', 'too many login attempts; wait and try again', { details: { quota: 'operator_login', retryAfterSec: allowed.retryAfterSec } });
        const known = approvers.get(name);
        const ok = await verifyPassword(password, known?.password ?? decoy);
        if (!ok || known?.password == null) {
          logger.warn({ requestId: request.id, source: request.ip }, 'operator login refused');
          throw new CordonError('OPERATOR_LOGIN_FAILED', 'the name or the password is wrong');
        }
        return startSession(request, reply, name);
      },
    },
    {
      method: 'POST',
      url: '/operator/v1/login-link/redeem',
      handler: async (request, reply) => {
        const { token } = loginBody(request.body, ['token']) as { token: string };
        const approver = sessions.redeemLink(token);
        if (approver === undefined || !approvers.has(approver)) throw new CordonError('OPERATOR_LOGIN_FAILED', 'this login link is unknown, used or expired; get a new one with: cordon approvals login-link');
        return startSession(request, reply, approver);
      },
    },
    {
      method: 'POST',
      url: '/operator/v1/login-links',
      auth: cliOnly,
      handler: async (request, reply) => {
        const { token, expiresAtMs } = sessions.createLink(operatorOf(request).approver);
        void reply.code(201);
        // The token rides in the fragment: browsers never send it, so no access log or proxy sees it.
        return { url: `${originOf(request)}/operator/#login=${token}`, expiresAt: new Date(expiresAtMs).toISOString() };
      },
    },
    {
      method: 'GET',
      url: '/operator/v1/session',
      auth: anyOperator,
      handler: async (request) => {
        const op = operatorOf(request);
        return { approver: op.approver, csrfToken: op.session?.csrfToken ?? null, expiresAt: op.session === undefined ? null : new Date(op.session.expiresAtMs).toISOString() };
      },
    },
    {
      method: 'POST',
      url: '/operator/v1/logout',
      auth: anyOperator,
      handler: async (request, reply) => {
        const op = operatorOf(request);
        if (op.sessionId !== undefined) sessions.delete(op.sessionId);
        setSessionCookie(request, reply, '', 0);
        void reply.code(204);
        return null;
      },
    },
    {
      method: 'GET',
      url: '/operator/v1/approvals',
      auth: anyOperator,
      handler: async (request) => {
        const status = (request.query as { status?: unknown }).status;
        if (status !== undefined && !STATUSES.includes(status as ApprovalStatus)) throw new CordonError('INPUT_INVALID', `status must be one of ${STATUSES.join(', ')}`, { details: { field: '/status' } });
        return { approvals: approvals.list(status === undefined ? {} : { status: status as ApprovalStatus }) };
      },
    },
    {
      method: 'GET',
      url: '/operator/v1/approvals/:id',
      auth: anyOperator,
      handler: async (request) => {
        const id = approvalId(request);
        const view = approvals.get(id);
        if (view === null) throw new CordonError('APPROVAL_NOT_FOUND', `no approval ${id}`, { details: { id } });
        return view;
      },
    },
    {
      method: 'POST',
      url: '/operator/v1/approvals/:id/decision',
      auth: anyOperator,
      handler: async (request) => {
        const id = approvalId(request);
        if (request.body === undefined) throw new CordonError('UNSUPPORTED_MEDIA_TYPE', 'send the signed decision as JSON with content-type: application/json');
        const signed = parseDecisionBody(request.body);
        if (signed.statement.approvalId !== id) throw new CordonError('INPUT_INVALID', 'statement.approvalId is not the approval in the URL', { details: { field: '/statement/approvalId' } });
        // A signature proves who signed; this proves the signer is who is at the keyboard. A stolen
        // signed statement (or one made by another approver) cannot be posted from another login.
        const operator = operatorOf(request).approver;
        if (signed.statement.approver !== operator) throw new CordonError('OPERATOR_FORBIDDEN', `the decision is signed for approver "${signed.statement.approver.slice(0, 128)}", but you are logged in as "${operator}"`);
        const view = await approvals.decide(signed);
        logger.info({ approval: id, decision: signed.statement.decision, approver: operator, requestId: request.id }, 'approval decided');
        return view;
      },
    },
  ];

  const byUrl = new Map<string, string[]>();
  for (const route of routes) {
    app.route({ method: route.method, url: route.url, handler: route.handler, ...(route.auth === undefined ? {} : { onRequest: route.auth }) });
    byUrl.set(route.url, [...(byUrl.get(route.url) ?? []), route.method, ...(route.method === 'GET' ? ['HEAD'] : [])]);
  }
  for (const [url, allowed] of byUrl) {
    app.route({
      method: ALL_METHODS.filter((m) => !allowed.includes(m)) as unknown as string[],
      url,
      handler: async (request) => {
        throw new CordonError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url}; use ${allowed.join(', ')}`, { details: { allow: allowed.join(', ') } });
      },
    });
  }
  return app;
}
