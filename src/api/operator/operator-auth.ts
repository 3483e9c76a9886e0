import type { AddressInfo } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { CordonError } from '../../core/errors.ts';
import { tokenFault } from '../../identity/token-fault.ts';
import { sameSecret, type OperatorSession, type OperatorSessions } from './operator-sessions.ts';

export const SESSION_COOKIE = 'cordon_operator';
export const CSRF_HEADER = 'x-cordon-csrf';

export interface OperatorIdentity {
  readonly approver: string;
  /** How the operator proved it: a CLI token (one request) or a web session (a cookie). */
  readonly via: 'token' | 'session';
  readonly sessionId?: string;
  readonly session?: OperatorSession;
}

declare module 'fastify' {
  interface FastifyRequest {
    operator?: OperatorIdentity;
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The Host header must name this listener (its configured host, or a loopback name, with its
 * port). A page on another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) sends
 * its own name and is refused before any route runs; it also gives login links a trusted origin.
 */
export function checkHost(request: FastifyRequest, configuredHost: string): void {
  const address = request.server.server.address() as AddressInfo | null;
  const host = request.headers.host;
  const names = new Set([configuredHost.includes(':') ? `[${configuredHost}]` : configuredHost, 'localhost', '127.0.0.1', '[::1]']);
  const ok = address !== null && typeof host === 'string' && [...names].some((n) => host.toLowerCase() === `${n}:${address.port}`);
  if (!ok) throw new CordonError('REQUEST_MALFORMED', 'the Host header does not name this operator listener; open it by its own address', { details: { header: 'host' } });
}

export function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? ''}`;
}

export interface OperatorAuthOptions {
  verifyToken: (token: string) => Promise<string>;
  sessions: OperatorSessions;
  /** Whether a name is (still) an approver: a session outlives nobody's removal from config. */
  isApprover: (name: string) => boolean;
}

/** CLI token or web session; a session also needs its CSRF token on every state-changing request. */
export function createOperatorAuthenticator(options: OperatorAuthOptions, accept: { token: boolean; session: boolean }) {
  return async (request: FastifyRequest): Promise<void> => {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      // A request that carries a token is judged by it alone, never rescued by a cookie.
      if (!accept.token) throw tokenFault('wrong_type', 'this route takes an operator web session, not a token');
      const m = BEARER.exec(authorization);
      if (m === null) throw tokenFault('malformed', 'Authorization must be "Bearer <operator JWT>"');
      const approver = await options.verifyToken(m[1] as string);
      request.operator = { approver, via: 'token' };
      return;
    }
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (id === undefined || !accept.session) {
      throw new CordonError('AUTH_MISSING_TOKEN', accept.session ? 'log in on the approvals page, or send an operator token (cordon approvals …)' : 'send an operator token: this route is for the CLI');
    }
    const session = options.sessions.get(id);
    if (session === undefined || !options.isApprover(session.approver)) throw tokenFault('expired', 'the operator session is unknown or expired; log in again');
    if (STATE_CHANGING.has(request.method)) {
      // SameSite=Strict keeps the cookie off cross-site requests; the token is the second lock,
      // and an Origin that is not ours is refused outright.
      const origin = request.headers.origin;
      if (origin !== undefined && origin !== originOf(request)) throw new CordonError('OPERATOR_CSRF_INVALID', 'the request comes from another origin');
      const sent = request.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameSecret(sent, session.csrfToken)) throw new CordonError('OPERATOR_CSRF_INVALID', `send the session's CSRF token in the ${CSRF_HEADER} header`);
    }
    request.operator = { approver: session.approver, via: 'session', sessionId: id, session };
  };
}
